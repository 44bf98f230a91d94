using System.Diagnostics;
using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Jail;
using Kindling.Vmm.Tests.Guests;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>The whole path: the VMM runs test guests from inside its jail (seccomp filter included), with devices.</summary>
[Collection(JailCollection.Name)]
public sealed class JailedGuestTests : IDisposable
{
    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [KvmFact]
    public async Task Start_HelloGuestInJail_PrintsPassAndExitsZero()
    {
        JailRun r = await RunJailedAsync(KindlingVmmProcess.GuestConfig("console=ttyS0 kindling.test=hello", memMib: 64), []);

        r.AssertPassed("hello");
    }

    /// <summary>virtio-blk from the jail: a hard-linked read-write image (owned by the jail's uid) and a read-only one.</summary>
    [KvmFact]
    public async Task Start_BlkGuestInJail_ReadsWritesAndTheReadOnlyDriveRefusesWrites()
    {
        string rw = BlockImages.Create(_host.ChrootBase, readOnly: false);
        string ro = BlockImages.Create(_host.ChrootBase, readOnly: true);
        byte[] roBefore = await File.ReadAllBytesAsync(ro, TestContext.Current.CancellationToken);
        VmConfig config = KindlingVmmProcess.GuestConfig("kindling.test=blk", memMib: 64) with
        {
            Drives =
            [
                new DriveConfig { DriveId = "rw", PathOnHost = "/rw.img", IsRootDevice = false, IsReadOnly = false },
                new DriveConfig { DriveId = "ro", PathOnHost = "/ro.img", IsRootDevice = false, IsReadOnly = true },
            ],
        };

        JailRun r = await RunJailedAsync(config, [new JailResource(rw, "/rw.img", Writable: true), new JailResource(ro, "/ro.img")]);

        r.AssertPassed("blk");
        Assert.Equal(BlockImages.WrittenSector1, BlockImages.ReadSector(rw, 1));
        Assert.Equal(roBefore, await File.ReadAllBytesAsync(ro, TestContext.Current.CancellationToken));
    }

    /// <summary>
    /// virtio-net with MMDS from the jail: the VMM attaches to a TAP owned by its uid (no /sys, no CAP_NET_ADMIN),
    /// the guest gets a V2 token and reads the secret loaded with --metadata (HMAC and random numbers from
    /// OpenSSL, loaded before pivot_root).
    /// </summary>
    [KvmFact]
    public async Task Start_MmdsGuestInJail_ReadsTheSecretOverTheNetDevice()
    {
        using TapDevice tap = TapDevice.Create(owner: JailTestHost.Uid);
        string secret = $"jailed-{Guid.NewGuid():N}";
        string metadata = Path.Combine(_host.ChrootBase, "metadata.json");
        await File.WriteAllTextAsync(metadata, "{\"latest\":{\"meta-data\":{\"secret\":\"" + secret + "\"}}}", TestContext.Current.CancellationToken);
        VmConfig config = KindlingVmmProcess.GuestConfig($"kindling.test=mmds kindling.mmds_path=/latest/meta-data/secret kindling.expect={secret}", memMib: 64) with
        {
            NetworkInterfaces = [new NetworkInterfaceConfig { IfaceId = "eth0", HostDevName = tap.Name, GuestMac = "06:00:ac:10:00:02" }],
            MmdsConfig = new MmdsConfig { Version = "V2", NetworkInterfaces = ["eth0"] },
        };

        JailRun r = await RunJailedAsync(config, [new JailResource(metadata, "/metadata.json")], ["--metadata", "/metadata.json"]);

        r.AssertPassed("mmds");
        Assert.Contains($"mmds: GET /latest/meta-data/secret: 200 '{secret}'", r.Stdout, StringComparison.Ordinal);
    }

    private sealed record JailRun(int ExitCode, string Stdout, string Stderr)
    {
        public void AssertPassed(string scenario)
        {
            Assert.True(ExitCode == 0, $"exit {ExitCode}; stdout:\n{Stdout}\nstderr:\n{Stderr}");
            Assert.Contains($"KINDLING-TEST {scenario} PASS", Stdout, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs the test guest with <paramref name="config"/> (kernel path replaced by the jail's) in a jail.</summary>
    private async Task<JailRun> RunJailedAsync(VmConfig config, IReadOnlyList<JailResource> resources, IReadOnlyList<string>? vmmArgs = null)
    {
        if (HostFacts.RootUnavailableReason is { } notRoot)
        {
            Assert.Skip(notRoot);
        }

        string guest = BuildGuest();
        string configPath = Path.Combine(_host.ChrootBase, "vm.json");
        VmConfig jailed = config with { BootSource = config.BootSource! with { KernelImagePath = "/guest.elf" } };
        await File.WriteAllTextAsync(configPath, VmConfigJson.Serialize(jailed), TestContext.Current.CancellationToken);
        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.None) with
        {
            RequireKvm = true,
            Resources = [new JailResource(guest, "/guest.elf"), new JailResource(configPath, "/vm.json"), .. resources],
            Limits = new JailCgroupLimits { MemoryBytes = 512L << 20, PidsMax = 64 },
            VmmArgs = ["--config-file", "/vm.json", "--no-api", "--id", id, .. vmmArgs ?? []],
        };

        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        jail.StandardInput.Close();
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        Task<string> stderr = jail.StandardError.ReadToEndAsync(timeout.Token);
        string stdout = await jail.StandardOutput.ReadToEndAsync(timeout.Token);
        await jail.WaitForExitAsync(timeout.Token);
        JailRun run = new(jail.ExitCode, stdout, await stderr);
        Assert.Empty(JailTeardown.Destroy(id, _host.ChrootBase).Leftovers);
        return run;
    }

    private string BuildGuest()
    {
        string source = Path.Combine(RepoPaths.Root, "tests", "guests");
        if (!File.Exists(Path.Combine(source, "Makefile")))
        {
            Assert.Skip($"the test guest sources ({source}) are not in this tree");
        }

        string outDir = Path.Combine(_host.ChrootBase, "guest");
        ProcessStartInfo start = new("make") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[] { "-C", source, $"OUT={outDir}" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process make = Process.Start(start)!;
        string error = make.StandardError.ReadToEnd();
        make.StandardOutput.ReadToEnd();
        make.WaitForExit();
        Assert.True(make.ExitCode == 0, $"make -C {source} failed: {error}");
        return Path.Combine(outDir, "kindling-test-guest.elf");
    }
}
