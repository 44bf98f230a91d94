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
        // Admission through the JobStore and poll → spawn latency (stub and real kindling-vmm); prints its own table.
        return Kindling.Benchmarks.Runner.RunnerBenchmarks.RunAsync().GetAwaiter().GetResult();
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
