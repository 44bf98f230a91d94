using System.Text.RegularExpressions;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>
/// The NativeAOT publish of kindling-vmm the native tests need: the one tests/run.sh made (<see cref="VmmProcess.NativeVariable"/>
/// and its log in <see cref="LogVariable"/>), else with <c>KINDLING_SLOW_TESTS=1</c> one made here, once per test run
/// (minutes on a two-core machine), else none: the tests that need it skip, saying so.
/// </summary>
internal static partial class NativeVmmBuild
{
    /// <summary>The publish's console output, kept by tests/run.sh for <see cref="AotAnalyzerWarnings"/>.</summary>
    public const string LogVariable = "KINDLING_VMM_NATIVE_PUBLISH_LOG";

    public const string SkipReason =
        "needs a NativeAOT kindling-vmm: set " + VmmProcess.NativeVariable + " and " + LogVariable + " (tests/run.sh does) or KINDLING_SLOW_TESTS=1 to publish one (minutes)";

    private static readonly Lazy<Task<(string Executable, string Log)>> Published = new(PublishAsync);

    /// <summary>Whether a native build is at hand or may be made.</summary>
    public static bool Available =>
        (VmmProcess.NativePath is not null && Environment.GetEnvironmentVariable(LogVariable) is { Length: > 0 }) ||
        Environment.GetEnvironmentVariable("KINDLING_SLOW_TESTS") == "1";

    /// <summary>The native executable and the output of the publish that made it.</summary>
    public static async Task<(string Executable, string Log)> GetAsync()
    {
        if (VmmProcess.NativePath is { } native && Environment.GetEnvironmentVariable(LogVariable) is { Length: > 0 } log)
        {
            return (native, await File.ReadAllTextAsync(log));
        }

        return await Published.Value;
    }

    /// <summary>The trimming, AOT and single-file analyzers' warnings (IL2xxx, IL3xxx) in a build's output, each once.</summary>
    public static IReadOnlyList<string> AotAnalyzerWarnings(string log) =>
        [.. AnalyzerDiagnostic().Matches(log).Select(m => m.Value.Trim()).Distinct(StringComparer.Ordinal)];

    [GeneratedRegex(@"^.*\b(warning|error) IL[23]\d{3}\b.*$", RegexOptions.Multiline)]
    private static partial Regex AnalyzerDiagnostic();

    private static async Task<(string Executable, string Log)> PublishAsync()
    {
        // Warnings reported, not fatal, so that the test names every one.
        (string output, int exit, string log) = await VmmPublish.RunAsync("native", "-p:PublishAot=true", "-p:TreatWarningsAsErrors=false");
        string exe = Path.Combine(output, "kindling-vmm");
        return exit == 0 && File.Exists(exe)
            ? (exe, log)
            : throw new InvalidOperationException($"dotnet publish -p:PublishAot=true failed (exit {exit}): {log}");
    }
}
