using System.Diagnostics;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>
/// Runs kindling-vmm as a real process: the build the test project copies next to the tests, or a native one
/// (NativeAOT) named by <see cref="NativeVariable"/>, so that CI runs the process-level tests against both.
/// </summary>
internal static class VmmProcess
{
    /// <summary>The path of a native kindling-vmm to test instead of the managed build (tests/run.sh sets it).</summary>
    public const string NativeVariable = "KINDLING_VMM_NATIVE";

    /// <summary>The native kindling-vmm under test, or null when <see cref="NativeVariable"/> is unset.</summary>
    public static string? NativePath =>
        Environment.GetEnvironmentVariable(NativeVariable) is { Length: > 0 } path
            ? File.Exists(path)
                ? Path.GetFullPath(path)
                : throw new InvalidOperationException($"{NativeVariable}={path} does not exist; publish it (dotnet publish vmm/Kindling.Vmm.Cli -r linux-x64 -p:PublishAot=true) or unset {NativeVariable}")
            : null;

    /// <summary>The executable to start: the native build when there is one, else the apphost beside the tests.</summary>
    public static string ExecutablePath => NativePath ?? Path.Combine(AppContext.BaseDirectory, "kindling-vmm");

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static async Task<Result> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var info = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var clock = Stopwatch.StartNew();
        using Process process = Process.Start(info) ?? throw new InvalidOperationException("cannot start kindling-vmm");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new Result(process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }
}
