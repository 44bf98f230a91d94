using Kindling.Benchmarks.Io;

// Benchmarks print ratios against the host's own limit; they are not timed tests.
// Usage: dotnet run -c Release --project tests/Kindling.Benchmarks -- <suite>
string suite = args.Length > 0 ? args[0] : "";
switch (suite)
{
    case "io":
        return IoBenchmarks.Run();
    case "runner":
        return await Kindling.Benchmarks.Runner.RunnerBenchmarks.RunAsync();
    default:
        Console.Error.WriteLine("usage: Kindling.Benchmarks <suite>; suites: io, runner");
        return 2;
}
