using Kindling.Benchmarks.Io;
using Kindling.Benchmarks.Reporting;
using Kindling.Benchmarks.Vm;

// Benchmarks print ratios against the host's own limit or against QEMU on the same machine; they are not timed
// tests. Each suite prints a table and writes artifacts/bench/<suite>.json.
// Usage: dotnet run -c Release --project tests/Kindling.Benchmarks -- <suite> [part...]
// (io's parts: blk, limiter, net, guestnet; runner's: warm; without parts a suite runs whole)
string[] vmSuites = ["launch", "memory", "density"];
string[] all = ["io", "runner", "jail", "images", .. vmSuites];
string suite = args.Length > 0 ? args[0] : "";
if (suite is "all")
{
    int worst = 0;
    foreach (string s in all)
    {
        worst = Math.Max(worst, RunSuite(s, []));
    }

    return worst;
}

if (!all.Contains(suite))
{
    Console.Error.WriteLine($"usage: Kindling.Benchmarks <suite>; suites: {string.Join(", ", all)}, all");
    return 2;
}

string[] parts = args[1..];
if (parts.Length > 0 && !(suite is "io" && parts.All(p => IoBenchmarks.Parts.Contains(p))) && !(suite is "runner" && parts is ["warm"]))
{
    Console.Error.WriteLine($"parts: io's are {string.Join(", ", IoBenchmarks.Parts)}; runner's is warm (the warm-start rows alone)");
    return 2;
}

return RunSuite(suite, parts);

static int RunSuite(string suite, string[] parts)
{
    var report = new BenchReport(suite);
    if (suite is "io")
    {
        return IoBenchmarks.Run(report, VmSubjects.ArtifactsDirectory, parts);
    }

    if (suite is "runner")
    {
        // Admission through the JobStore and poll → spawn latency (stub and real kindling-vmm); prints its own table.
        return Kindling.Benchmarks.Runner.RunnerBenchmarks.RunAsync(parts).GetAwaiter().GetResult();
    }

    if (suite is "jail" or "images")
    {
        // No KVM needed: the jail's own start-up cost (root: jail-debug Ready, jailed versus un-jailed), and the
        // image store's overlay and base image times.
        DirectoryInfo jailWork = Directory.CreateTempSubdirectory("kindling-bench-");
        try
        {
            int jailRc = suite is "jail"
                ? JailStartupBenchmarks.Run(report, jailWork.FullName)
                : Kindling.Benchmarks.Images.ImageBenchmarks.Run(report, jailWork.FullName);
            if (report.Rows.Count > 0)
            {
                report.Finish(VmSubjects.ArtifactsDirectory);
            }

            return Math.Max(jailRc, report.ExitCode);
        }
        finally
        {
            jailWork.Delete(recursive: true);
        }
    }

    if (suite is "launch")
    {
        // exec → API and the idle VMM's memory need no KVM: measured for every build; what boots a guest is
        // SKIPPED, with the reason, where KVM is missing.
        DirectoryInfo apiWork = Directory.CreateTempSubdirectory("kindling-bench-");
        try
        {
            ApiStartBenchmarks.Run(report, apiWork.FullName);
        }
        finally
        {
            apiWork.Delete(recursive: true);
        }

        if (VmSubjects.Unavailable() is { } noKvm)
        {
            LaunchBenchmarks.Skip(report, noKvm);
            report.Finish(VmSubjects.ArtifactsDirectory);
            return report.ExitCode;
        }
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
        return Math.Max(rc, report.ExitCode); // a missed target or a failed variant fails the suite
    }
    finally
    {
        work.Delete(recursive: true);
    }
}
