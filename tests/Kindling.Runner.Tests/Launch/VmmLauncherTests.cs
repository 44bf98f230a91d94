using System.Net.Sockets;
using Kindling.Runner.Configuration;
using Kindling.Runner.Launch;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Launch;

public sealed class VmmLauncherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-launcher-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The API socket's file exists from bind(2) on, but connections are refused until listen(2): the launcher
    /// waits for an accepted connection, not for the file (its first PUT was once refused under load).
    /// </summary>
    [Fact]
    public async Task Accepts_SocketBoundNotListening_FalseUntilListening()
    {
        string path = Path.Combine(_dir, "api.sock");
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));

        Assert.False(await VmmLauncher.AcceptsAsync(path, TestContext.Current.CancellationToken));
        server.Listen();
        Assert.True(await VmmLauncher.AcceptsAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Accepts_NoSocketFile_False() =>
        Assert.False(await VmmLauncher.AcceptsAsync(Path.Combine(_dir, "missing.sock"), TestContext.Current.CancellationToken));

    /// <summary>
    /// A jail left by a VMM that died with the runner (no owner recorded, older than the build grace) is destroyed
    /// by the orphan sweep through the real <c>kindling-vmm jail --reap</c>; while its id is a live VM's, the sweep
    /// does not even look.
    /// </summary>
    [Fact]
    public async Task ReapOrphans_DeadJailOfNoLiveVm_Destroyed()
    {
        Assert.SkipWhen(HostFacts.RootUnavailableReason is not null, HostFacts.RootUnavailableReason ?? "");
        string chrootBase = Path.Combine(_dir, "jailer"), cgroupRoot = Path.Combine(_dir, "cgroup");
        Directory.CreateDirectory(cgroupRoot);
        string jail = Path.Combine(chrootBase, "kindling-vmm", "kindling-vm-4242");
        Directory.CreateDirectory(Path.Combine(jail, "root", "run"));
        foreach (string d in new[] { Path.Combine(jail, "root", "run"), Path.Combine(jail, "root"), jail })
        {
            Directory.SetLastWriteTimeUtc(d, DateTime.UtcNow.AddMinutes(-10));
        }

        var launcher = new VmmLauncher(Path.Combine(AppContext.BaseDirectory, "kindling-vmm"),
            new JailOptions { Enabled = true, ChrootBase = chrootBase, CgroupRoot = cgroupRoot });
        Assert.True(launcher.Jailed);

        Assert.Empty(await launcher.ReapOrphansAsync(new HashSet<string> { "kindling-vm-4242" }, TestContext.Current.CancellationToken));
        Assert.True(Directory.Exists(jail));

        IReadOnlyList<string> removed = await launcher.ReapOrphansAsync(new HashSet<string>(), TestContext.Current.CancellationToken);
        Assert.Contains(removed, line => line.Contains("kindling-vm-4242", StringComparison.Ordinal));
        Assert.False(Directory.Exists(jail));
        Assert.Empty(await launcher.ReapOrphansAsync(new HashSet<string>(), TestContext.Current.CancellationToken));
    }
}
