using System.Globalization;
using Kindling.Benchmarks.Io;

// Benchmarks print ratios against the host's own limit; they are not timed tests.
// Usage: dotnet run -c Release --project tests/Kindling.Benchmarks -- <suite>
string suite = args.Length > 0 ? args[0] : "";
switch (suite)
{
    case "io":
        return IoBenchmarks.Run();
    case "runner":
        double perSecond = Kindling.Benchmarks.Runner.SchedulerBenchmark.JobsAdmittedPerSecond();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"runner scheduler: {perSecond:N0} jobs admitted/s (1,000 queued, 10 tenants; target >= 200; ratio {perSecond / 200:N1}x)"));
        return 0;
    default:
        Console.Error.WriteLine("usage: Kindling.Benchmarks <suite>; suites: io, runner");
        return 2;
}
