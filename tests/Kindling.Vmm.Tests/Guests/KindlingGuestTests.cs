using System.Net.Sockets;
using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// The test guests on kindling-vmm, run as a real process from a Firecracker-format config file. The guests are
/// entered through their 64-bit Linux entry (boot_params in RSI) and find virtio devices from the
/// <c>virtio_mmio.device=</c> words the VMM adds to the command line. Guest kernel code is emulated ~3600× slower
/// on this kind of host's KVM, hence the generous timeout (the guests stay under ~10⁶ instructions).
/// </summary>
public sealed class KindlingGuestTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(120);
    private const string GuestMac = "06:00:ac:10:00:02";
    private const int VsockPort = 52000;
    private const string VsockMessage = "KINDLING-VSOCK-ECHO ping";

    private static async Task<GuestRunResult> RunAsync(VmConfig config, IReadOnlyList<string>? extraArguments = null)
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-vmm-guest-");
        try
        {
            return await KindlingVmmProcess.RunAsync(config, dir.FullName, RunTimeout, TestContext.Current.CancellationToken, extraArguments);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static void AssertPassed(GuestRunResult result, string scenario)
    {
        Assert.True(result.Passed(scenario) && result.ExitCode == 0,
            $"expected '{GuestRunResult.PassLine(scenario)}' and exit 0; {result.Describe()}");
    }

    [KvmFact]
    public async Task Hello_OnKindlingVmm_PassesAndExitsZero()
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig("kindling.test=hello"));

        AssertPassed(r, "hello");
        Assert.Contains("Hello from the Kindling test guest (64-bit Linux entry)", r.Lines);
    }

    [KvmFact]
    public async Task Cmdline_OnKindlingVmm_EchoesExactlyTheBootArgs()
    {
        const string bootArgs = "kindling.test=cmdline console=ttyS0 a=b=c \"two words\" trailing";

        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig(bootArgs));

        AssertPassed(r, "cmdline");
        Assert.Contains($"KINDLING-CMDLINE<<<{bootArgs}>>>", r.Lines);
    }

    /// <summary>
    /// Pins how this host's KVM takes system calls from guest user mode (issue 11). Hardware: SYSCALL lands in ring
    /// 0 at LSTAR and a DPL-3 int $0x80 gate is taken. Emulated (kvm_pvm): SYSCALL sets RCX/R11 and jumps to LSTAR
    /// but stays in ring 3, so the guest kernel sees a user-mode #PF at LSTAR; int $0x80 raises #UD. Exceptions
    /// from ring 3 reach ring 0 either way. Kindling's guest kernel patch relies on the emulated facts.
    /// </summary>
    [KvmFact]
    public async Task Cpl3_OnKindlingVmm_SystemCallFactsMatchTheKvmBacking()
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig("kindling.test=cpl3"));

        AssertPassed(r, "cpl3");
        string facts = Assert.Single(r.Lines, l => l.StartsWith("KINDLING-CPL3 ", StringComparison.Ordinal));
        const string exceptions = "ud2=vector-6 cli=vector-13 kread=vector-14";
        Assert.Equal(KvmProbe.Result.Backing == KvmBacking.Emulated
            ? $"KINDLING-CPL3 syscall=vector-14 syscall_rcx=next syscall_r11=rflags int80=vector-6 sysenter=vector-6 {exceptions}"
            : $"KINDLING-CPL3 syscall=landed-cpl0 syscall_rcx=next syscall_r11=rflags int80=vector-128 sysenter={SysenterOnHardware(facts)} {exceptions}",
            facts);
        Assert.Contains("KINDLING-TLB first=ok invlpg=ok cr3=ok unmap=fault", r.Lines); // user mode sees INVLPG and CR3 reloads
        if (KvmProbe.Result.Backing == KvmBacking.Emulated)
        {
            // The #PF is a user-mode fetch of the supervisor-only page at LSTAR, with RF set and IF masked by SFMASK.
            Assert.Contains(r.Lines, l => l.StartsWith("cpl3: syscall -> vector-14 cs=2b ", StringComparison.Ordinal) && l.Contains(" err=5 "));
        }
    }

    /// <summary>SYSENTER in long mode: Intel takes it, AMD raises #UD; either is hardware behaviour.</summary>
    private static string SysenterOnHardware(string facts) => facts.Contains("sysenter=landed-cpl0") ? "landed-cpl0" : "vector-6";

    [KvmFact]
    public async Task Loop_OnKindlingVmm_PrintsBothMarkers()
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig("kindling.test=loop kindling.loops=100000"));

        AssertPassed(r, "loop");
        Assert.Contains("KINDLING-LOOP-END 100000", r.Lines);
    }

    [KvmFact]
    public async Task Smp_OnKindlingVmmWithTwoVcpus_EveryVcpuChecksIn() => await AssertSmpAsync(2);

    [KvmFact]
    public async Task Smp_OnKindlingVmmWithFourVcpus_EveryVcpuChecksIn() => await AssertSmpAsync(4);

    private static async Task AssertSmpAsync(int cpus)
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig($"kindling.test=smp kindling.cpus={cpus}", vcpus: cpus));

        AssertPassed(r, "smp");
        Assert.Contains(r.Lines, l => l.StartsWith($"smp: {cpus} of {cpus} vCPUs checked in", StringComparison.Ordinal));
    }

    [KvmFact]
    public async Task Smp_OnKindlingVmmWithoutCount_TakesTheCountFromTheMpTable()
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig("kindling.test=smp", vcpus: 2));

        AssertPassed(r, "smp");
        Assert.Contains("smp: BSP APIC ID 0, expecting 2 vCPUs (from MP table)", r.Lines);
    }

    [KvmFact]
    public async Task Timer_OnKindlingVmm_LapicAndPitInterruptsArrive()
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig("kindling.test=timer"));

        AssertPassed(r, "timer");
        Assert.Contains("timer: PIT interrupt arrived through the IOAPIC", r.Lines);
    }

    [KvmFact]
    public async Task Blk_OnKindlingVmm_ReadsWritesFlushesAndReadOnlyDriveRefusesWrites()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-vmm-blk-");
        try
        {
            string rw = BlockImages.Create(dir.FullName, readOnly: false);
            string ro = BlockImages.Create(dir.FullName, readOnly: true);
            byte[] roBefore = File.ReadAllBytes(ro);
            VmConfig config = KindlingVmmProcess.GuestConfig("kindling.test=blk") with
            {
                Drives =
                [
                    new DriveConfig { DriveId = "rw", PathOnHost = rw, IsRootDevice = false, IsReadOnly = false },
                    new DriveConfig { DriveId = "ro", PathOnHost = ro, IsRootDevice = false, IsReadOnly = true },
                ],
            };

            GuestRunResult r = await RunAsync(config);

            AssertPassed(r, "blk");
            Assert.Equal(BlockImages.WrittenSector1, BlockImages.ReadSector(rw, 1));
            Assert.Equal(roBefore, File.ReadAllBytes(ro));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [KvmFact]
    public async Task Rng_OnKindlingVmm_ReadsVariedEntropy()
    {
        GuestRunResult r = await RunAsync(KindlingVmmProcess.GuestConfig("kindling.test=rng") with { Entropy = new EntropyConfig() });

        AssertPassed(r, "rng");
    }

    [KvmFact]
    public async Task Net_OnKindlingVmmOverTap_SendsAFrameAndReceivesTheReply()
    {
        Assert.SkipWhen(HostFacts.RootUnavailableReason is not null, HostFacts.RootUnavailableReason ?? "");
        CancellationToken ct = TestContext.Current.CancellationToken;
        using TapDevice tap = TapDevice.Create();
        using PacketSocket wire = new(tap.Name);
        string reply = $"{EthernetFrames.HostPayloadPrefix} {Guid.NewGuid():N}";
        VmConfig config = KindlingVmmProcess.GuestConfig("kindling.test=net") with
        {
            NetworkInterfaces = [new NetworkInterfaceConfig { IfaceId = "eth0", HostDevName = tap.Name, GuestMac = GuestMac }],
        };

        (GuestRunResult r, bool guestFrameSeen) = await EthernetFrames.ExchangeAsync(RunAsync(config), wire, reply, FrameTimeout, ct);
        Assert.True(guestFrameSeen, $"the guest's frame never appeared on {tap.Name}; {r.Describe()}");
        AssertPassed(r, "net");
        Assert.Contains(r.Lines, l => l.StartsWith(EthernetFrames.ReceivedLine(reply), StringComparison.Ordinal));
    }

    /// <summary>
    /// MMDS V2 end to end, from the guest's side of virtio-net: ARP, a TCP connection per request, PUT
    /// /latest/api/token, then GET with the token; the value comes from <c>--metadata</c>. Kindling-only: QEMU has
    /// no metadata service, so the guest's own TCP/HTTP code is checked by its checksums and by this VMM alone.
    /// </summary>
    [KvmFact]
    public async Task Mmds_OnKindlingVmmWithToken_GuestReadsTheSecretFromMetadata()
    {
        string secret = $"s3cret-{Guid.NewGuid():N}";
        GuestRunResult r = await RunMmdsAsync($"kindling.test=mmds kindling.mmds_path={MmdsSecretPath} kindling.expect={secret}", secret);

        AssertPassed(r, "mmds");
        Assert.Contains(r.Lines, l => l.StartsWith("mmds: PUT /latest/api/token: 200, a token of ", StringComparison.Ordinal));
        Assert.Contains($"mmds: GET {MmdsSecretPath}: 200 '{secret}'", r.Lines);
    }

    /// <summary>V2 refuses a GET without a session token (401); Kindling-only, as above.</summary>
    [KvmFact]
    public async Task Mmds_OnKindlingVmmWithoutToken_GetIsRefusedWith401()
    {
        GuestRunResult r = await RunMmdsAsync($"kindling.test=mmds kindling.mmds_path={MmdsSecretPath} kindling.mmds_token=none", "unused");

        AssertPassed(r, "mmds");
        Assert.Contains(r.Lines, l => l.StartsWith($"mmds: GET {MmdsSecretPath} without a token: 401 ", StringComparison.Ordinal));
    }

    private const string MmdsSecretPath = "/latest/meta-data/kindling-secret";

    private static async Task<GuestRunResult> RunMmdsAsync(string bootArgs, string secret)
    {
        Assert.SkipWhen(HostFacts.RootUnavailableReason is not null, HostFacts.RootUnavailableReason ?? "");
        using TapDevice tap = TapDevice.Create();
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-vmm-mmds-");
        try
        {
            string metadata = Path.Combine(dir.FullName, "metadata.json");
            await File.WriteAllTextAsync(metadata, "{\"latest\":{\"meta-data\":{\"kindling-secret\":\"" + secret + "\"}}}", TestContext.Current.CancellationToken);
            VmConfig config = KindlingVmmProcess.GuestConfig(bootArgs) with
            {
                NetworkInterfaces = [new NetworkInterfaceConfig { IfaceId = "eth0", HostDevName = tap.Name, GuestMac = GuestMac }],
                MmdsConfig = new MmdsConfig { Version = "V2", NetworkInterfaces = ["eth0"] },
            };
            return await RunAsync(config, ["--metadata", metadata]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Hybrid vsock: the guest connects to host port 52000; the VMM connects to <c>uds_path_52000</c>.</summary>
    [KvmFact]
    public async Task Vsock_OnKindlingVmm_GuestConnectionIsEchoedThroughTheUnixSocket()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-vmm-vsock-");
        try
        {
            string uds = Path.Combine(dir.FullName, "v.sock");
            using Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint($"{uds}_{VsockPort}"));
            listener.Listen(1);
            Task<string> echo = EchoOnceAsync(listener, VsockMessage.Length, ct);
            VmConfig config = KindlingVmmProcess.GuestConfig($"kindling.test=vsock kindling.vsock_port={VsockPort}") with
            {
                Vsock = new VsockConfig { GuestCid = 3, UdsPath = uds },
            };

            GuestRunResult r = await RunAsync(config);

            AssertPassed(r, "vsock");
            Assert.True(echo.IsCompletedSuccessfully, $"the host side saw no connection; {r.Describe()}");
            Assert.Equal(VsockMessage, await echo);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<string> EchoOnceAsync(Socket listener, int length, CancellationToken ct)
    {
        using Socket s = await listener.AcceptAsync(ct);
        byte[] buffer = new byte[length];
        int got = 0;
        while (got < length)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, ct);
            if (n == 0)
            {
                break;
            }

            got += n;
        }

        await s.SendAsync(buffer.AsMemory(0, got), SocketFlags.None, ct);
        return Encoding.ASCII.GetString(buffer, 0, got);
    }
}
