using System.Diagnostics;
using Kindling.Testing;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>
/// <c>dotnet publish vmm/Kindling.Vmm.Cli -r linux-x64 -c Release</c> with extra arguments into a temporary folder
/// removed when the test run ends, in its own artifacts folder (a runtime-specific restore must not touch the Debug
/// build's obj/). For the tests that need a shipped layout (self-contained, NativeAOT).
/// </summary>
internal static class VmmPublish
{
    /// <summary>Generous: a publish on a loaded two-core machine takes minutes (NativeAOT the longest).</summary>
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(15);

    /// <summary>Publishes; returns the output folder, the exit code and the console output.</summary>
    public static async Task<(string Output, int ExitCode, string Log)> RunAsync(string what, params string[] arguments)
    {
        string root = Directory.CreateTempSubdirectory($"kindling-vmm-{what}-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(root, recursive: true);
        string output = Path.Combine(root, "publish");
        var psi = new ProcessStartInfo("dotnet",
            ["publish", Path.Combine(RepoPaths.Root, "vmm", "Kindling.Vmm.Cli"), "-r", "linux-x64", "-c", "Release",
             "-o", output, "--artifacts-path", Path.Combine(root, "artifacts"), "-nologo", .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var wait = new CancellationTokenSource(Wait);
        await p.WaitForExitAsync(wait.Token);
        return (output, p.ExitCode, await stdout + await stderr);
    }
}
