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
        (string output, int exit, string log) = await Cli.VmmPublish.RunAsync("self-contained", "--self-contained", "-v", "q");
        string exe = Path.Combine(output, "kindling-vmm");
        if (exit != 0 || !File.Exists(exe) || !JailRuntime.IsSelfContained(output))
        {
            throw new InvalidOperationException($"dotnet publish --self-contained failed (exit {exit}): {log}");
        }

        return exe;
    }
}
