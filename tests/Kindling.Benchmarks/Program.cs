using System.Globalization;

string suite = args.Length > 0 ? args[0] : "all";
if (suite is "runner" or "all")
{
    double perSecond = Kindling.Benchmarks.Runner.SchedulerBenchmark.JobsAdmittedPerSecond();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"runner scheduler: {perSecond:N0} jobs admitted/s (1,000 queued, 10 tenants; target >= 200; ratio {perSecond / 200:N1}x)"));
}

return 0;
