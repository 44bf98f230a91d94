using System.Diagnostics;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>
/// The jail with a shipped build: a self-contained ReadyToRun publish (<c>dotnet publish -r linux-x64
/// --self-contained</c>), whose kindling-vmm is an apphost with the runtime beside it and no dotnet host at all.
/// Needs root (the jail) but not /dev/kvm: the VMM answers on its API socket before a VM starts.
/// </summary>
[Collection(JailCollection.Name)]
public sealed class JailPublishedBuildTests : IDisposable
{
    /// <summary>Generous: a publish on a loaded two-core machine takes minutes.</summary>
    private static readonly TimeSpan PublishWait = TimeSpan.FromMinutes(10);

    /// <summary>One publish per test run, in a temporary folder removed when the run ends.</summary>
    private static readonly Lazy<Task<string>> SelfContained = new(PublishSelfContainedAsync);

    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [RootFact]
    public async Task Start_SelfContainedPublish_JailedVmmAnswersOnItsApiSocket()
    {
        string exe = await SelfContained.Value;
        Assert.Equal([exe], JailRuntime.For(exe, dotnetPath: null).Command); // no dotnet host: the apphost itself

        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.None) with { AppPath = exe, VmmArgs = ["--api-sock", "/run/api.sock", "--id", id] };
        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        Task<string> stderr = jail.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            string socket = Path.Combine(_host.ChrootBase, "kindling-vmm", id, "root", "run", "api.sock");
            string info = await JailTestHost.GetWhenListeningAsync(socket, jail, stderr);
            Assert.Contains($"\"id\": \"{id}\"", info, StringComparison.Ordinal);
            Assert.Contains("\"state\": \"Not started\"", info, StringComparison.Ordinal);

            // The jailed process is the published executable, run as the jail's user.
            int child = JailTestHost.JailedChild(jail.Id);
            Assert.Equal(exe, File.ReadAllText($"/proc/{child}/cmdline").Split('\0')[0]);
            Assert.Contains($"Uid:\t{JailTestHost.Uid}\t", File.ReadAllText($"/proc/{child}/status"), StringComparison.Ordinal);
        }
        finally
        {
            jail.Kill(entireProcessTree: true);
            await jail.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    private static async Task<string> PublishSelfContainedAsync()
    {
        string root = Directory.CreateTempSubdirectory("kindling-vmm-self-contained-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(root, recursive: true);
        string output = Path.Combine(root, "publish");
        // Its own artifacts folder: the publish restores for linux-x64 and must not touch the Debug build's obj/.
        var psi = new ProcessStartInfo("dotnet",
            ["publish", Path.Combine(RepoPaths.Root, "vmm", "Kindling.Vmm.Cli"), "-r", "linux-x64", "--self-contained", "-c", "Release",
             "-o", output, "--artifacts-path", Path.Combine(root, "artifacts"), "-nologo", "-v", "q"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var wait = new CancellationTokenSource(PublishWait);
        await p.WaitForExitAsync(wait.Token);
        string exe = Path.Combine(output, "kindling-vmm");
        if (p.ExitCode != 0 || !File.Exists(exe) || !JailRuntime.IsSelfContained(output))
        {
            throw new InvalidOperationException($"dotnet publish --self-contained failed (exit {p.ExitCode}): {await stdout} {await stderr}");
        }

        return exe;
    }
}
