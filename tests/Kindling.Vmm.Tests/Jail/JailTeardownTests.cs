using System.Diagnostics;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

[Collection(JailCollection.Name)]
public sealed class JailTeardownTests : IDisposable
{
    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [RootFact]
    public async Task Destroy_RunningJailWithTapAndFifo_RemovesEverythingAndVerifiesClean()
    {
        string id = _host.NewId();
        string tap = "kt" + id[2..10];
        JailLauncherTests.Run("ip", "tuntap", "add", "dev", tap, "mode", "tap");
        JailSpec spec = _host.Spec(id, JailDebugAction.Ready) with { TapName = tap, Fifos = ["/serial.fifo"] };
        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        Assert.Equal("READY", await JailTestHost.ReadLineAsync(jail));
        int child = JailTestHost.JailedChild(jail.Id);
        Assert.NotEmpty(JailTeardown.Verify(id, _host.ChrootBase, tapName: tap));

        JailTeardownReport report = JailTeardown.Destroy(id, _host.ChrootBase);

        // The top process is killed; the jailed VMM dies with it (parent-death signal) or is killed from its cgroup.
        Assert.Contains(jail.Id, report.KilledPids);
        Assert.Null(ProcFs.StartTicks(child));
        Assert.Equal(JailCgroup.V1Controllers.Count, report.CgroupsRemoved.Count);
        Assert.NotNull(report.ChrootRemoved);
        Assert.Equal(tap, report.TapDeleted);
        Assert.Contains(report.FifosAndSocketsUnlinked, p => p.EndsWith("/root/serial.fifo", StringComparison.Ordinal));
        Assert.Empty(report.Leftovers);
        await JailTestHost.WaitExitAsync(jail);

        // An independent scan: no process in the cgroup or running its jail-init, no cgroup, no chroot, no link.
        Assert.Empty(JailTeardown.JailProcesses(id));
        Assert.All(new JailCgroup("/sys/fs/cgroup", id).Directories, d => Assert.False(Directory.Exists(d)));
        Assert.False(Directory.Exists(new JailPaths(id, _host.ChrootBase).JailDir));
        Assert.DoesNotContain(tap, IpLinkNames());
    }

    [RootFact]
    public void Destroy_PreparedButNeverStarted_RemovesChrootAndCgroup()
    {
        string id = _host.NewId();
        JailInitOptions init = JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None));
        Assert.True(File.Exists(init.Root + "/vmlinux"));

        JailTeardownReport report = JailTeardown.Destroy(id, _host.ChrootBase);

        Assert.Empty(report.KilledPids);
        Assert.Empty(report.Leftovers);
        Assert.Empty(JailTeardown.Verify(id, _host.ChrootBase));
        // The hard-linked original is untouched.
        Assert.Equal("not a kernel", File.ReadAllText(_host.Kernel));
    }

    [RootFact]
    public void Destroy_SymlinkPointingOutOfTheJail_RemovesTheLinkNotItsTarget()
    {
        string id = _host.NewId();
        JailInitOptions init = JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None));
        string outside = Path.Combine(_host.ChrootBase, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "keep.txt"), "keep");
        File.CreateSymbolicLink(init.Root + "/run/escape", outside);

        JailTeardown.Destroy(id, _host.ChrootBase);

        Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "keep.txt")));
        Assert.Empty(JailTeardown.Verify(id, _host.ChrootBase));
    }

    [RootFact]
    public void Destroy_MountLeftUnderTheJail_UnmountsBeforeRemoving()
    {
        string id = _host.NewId();
        JailInitOptions init = JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None));
        JailLauncherTests.Run("mount", "-t", "tmpfs", "tmpfs", init.Root + "/run");
        File.WriteAllText(init.Root + "/run/file", "x");

        JailTeardownReport report = JailTeardown.Destroy(id, _host.ChrootBase);

        Assert.Equal([init.Root + "/run"], report.Unmounted);
        Assert.Empty(JailTree.MountPointsUnder(_host.ChrootBase));
        Assert.Empty(JailTeardown.Verify(id, _host.ChrootBase));
    }

    [RootFact]
    public async Task Reap_AfterKill9OfTheJailOwner_RemovesTheLeftovers()
    {
        string id = _host.NewId();
        string live = _host.NewId();
        using Process jail = JailLauncher.Start(_host.Spec(id, JailDebugAction.Ready), redirectStandardStreams: true);
        using Process other = JailLauncher.Start(_host.Spec(live, JailDebugAction.Ready), redirectStandardStreams: true);
        Assert.Equal("READY", await JailTestHost.ReadLineAsync(jail));
        Assert.Equal("READY", await JailTestHost.ReadLineAsync(other));

        int child = JailTestHost.JailedChild(jail.Id);
        jail.Kill(); // SIGKILL to the jail's top process; the jailed VMM dies through its parent-death signal.
        await JailTestHost.WaitExitAsync(jail);
        using (CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            while (ProcFs.StartTicks(child) is not null)
            {
                await Task.Delay(20, timeout.Token);
            }
        }

        Assert.NotEmpty(JailTeardown.Verify(id, _host.ChrootBase));

        IReadOnlyList<JailTeardownReport> reaped = JailReaper.Reap(_host.ChrootBase);

        JailTeardownReport report = Assert.Single(reaped);
        Assert.Equal(id, report.Id);
        Assert.Empty(report.KilledPids);
        Assert.Equal(JailCgroup.V1Controllers.Count, report.CgroupsRemoved.Count);
        Assert.Empty(report.Leftovers);
        Assert.Empty(JailTeardown.Verify(id, _host.ChrootBase));
        // The live jail is not touched.
        Assert.NotEmpty(JailTeardown.JailProcesses(live));
        other.StandardInput.Close();
        Assert.Equal(0, await JailTestHost.WaitExitAsync(other));
    }

    [RootFact]
    public void Reap_CgroupWithoutChrootOlderThanGrace_IsRemoved()
    {
        string id = _host.NewId();
        JailCgroup cgroup = new("/sys/fs/cgroup", id);
        cgroup.Create(new JailCgroupLimits());
        FakeTimeProvider later = new(DateTimeOffset.UtcNow + JailReaper.BuildGrace + TimeSpan.FromSeconds(1));

        IReadOnlyList<JailTeardownReport> reaped = JailReaper.Reap(_host.ChrootBase, time: later);

        Assert.Contains(reaped, r => r.Id == id && r.CgroupsRemoved.Count == JailCgroup.V1Controllers.Count);
        Assert.False(cgroup.Exists);
    }

    [RootFact]
    public void Reap_JailBeingBuilt_IsLeftAlone()
    {
        string id = _host.NewId();
        JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None));

        IReadOnlyList<JailTeardownReport> reaped = JailReaper.Reap(_host.ChrootBase);

        Assert.DoesNotContain(reaped, r => r.Id == id);
        Assert.True(Directory.Exists(new JailPaths(id, _host.ChrootBase).RootDir));
    }

    private static string IpLinkNames()
    {
        ProcessStartInfo start = new("ip", "-o link show") { RedirectStandardOutput = true, UseShellExecute = false };
        using Process ip = Process.Start(start)!;
        string output = ip.StandardOutput.ReadToEnd();
        ip.WaitForExit();
        return output;
    }
}
