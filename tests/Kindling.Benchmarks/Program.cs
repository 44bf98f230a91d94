using System.Globalization;
using Kindling.Benchmarks.Io;
using Kindling.Benchmarks.Reporting;
using Kindling.Benchmarks.Vm;

// Benchmarks print ratios against the host's own limit or against QEMU on the same machine; they are not timed
// tests. Each suite prints a table and writes artifacts/bench/<suite>.json.
// Usage: dotnet run -c Release --project tests/Kindling.Benchmarks -- <suite>
string[] vmSuites = ["launch", "memory", "density"];
string[] all = ["io", "runner", .. vmSuites];
string suite = args.Length > 0 ? args[0] : "";
if (suite is "all")
{
    int worst = 0;
    foreach (string s in all)
    {
        worst = Math.Max(worst, RunSuite(s));
    }

    return worst;
}

if (!all.Contains(suite))
{
    Console.Error.WriteLine($"usage: Kindling.Benchmarks <suite>; suites: {string.Join(", ", all)}, all");
    return 2;
}

return RunSuite(suite);

static int RunSuite(string suite)
{
    var report = new BenchReport(suite);
    if (suite is "io")
    {
        return IoBenchmarks.Run(report, VmSubjects.ArtifactsDirectory);
    }

    if (suite is "runner")
    {
        double perSecond = Kindling.Benchmarks.Runner.SchedulerBenchmark.JobsAdmittedPerSecond();
        report.Add(new BenchRow("runner scheduler: jobs admitted/s (1,000 queued, 10 tenants)", "jobs/s", perSecond)
        {
            Target = ">= 200",
            Ok = perSecond >= 200,
            Note = string.Create(CultureInfo.InvariantCulture, $"ratio {perSecond / 200:N1}x the target"),
        });
        report.Finish(VmSubjects.ArtifactsDirectory);
        return 0;
    }

    if (VmSubjects.Unavailable() is { } why)
    {
        Console.WriteLine($"{suite}: skipped ({why})");
        return 0;
    }

    DirectoryInfo work = Directory.CreateTempSubdirectory("kindling-bench-");
    try
    {
        int rc = suite switch
        {
            "launch" => LaunchBenchmarks.Run(report, work.FullName),
            "memory" => MemoryBenchmarks.Run(report, work.FullName),
            _ => DensityBenchmarks.Run(report, work.FullName),
        };
        report.Finish(VmSubjects.ArtifactsDirectory);
        return rc;
    }
    finally
    {
        work.Delete(recursive: true);
    }
}
