using System.Net;
using System.Net.Sockets;
using Kindling.Testing;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// The test guests on QEMU microvm (TCG): an implementation independent of ours, so a pass here means the guest
/// itself boots, takes interrupts, starts APs and speaks virtio-mmio correctly. The same guests then judge
/// kindling-vmm (<see cref="KindlingGuestTests"/>).
/// </summary>
public sealed class QemuGuestTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(30);
    private const string GuestMac = "52:54:00:12:34:56";

    private static Task<GuestRunResult> RunAsync(QemuMicrovm vm) => vm.RunAsync(RunTimeout, TestContext.Current.CancellationToken);

    private static void AssertPassed(GuestRunResult result, string scenario)
    {
        Assert.True(result.Passed(scenario) && result.ExitCode == QemuMicrovm.PassExitCode,
            $"expected '{GuestRunResult.PassLine(scenario)}' and QEMU exit {QemuMicrovm.PassExitCode}; {result.Describe()}");
    }

    [Fact]
    public async Task Hello_OnQemuMicrovm_PassesAndExits()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=hello"));

        AssertPassed(r, "hello");
        Assert.Contains("Hello from the Kindling test guest (PVH entry)", r.Lines);
    }

    /// <summary>QEMU's TCG is an independent x86: SYSCALL and int $0x80 from ring 3 land in ring 0 there.</summary>
    [Fact]
    public async Task Cpl3_OnQemuMicrovm_SyscallAndInt80LandInRingZero()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=cpl3"));

        AssertPassed(r, "cpl3");
        Assert.Contains("KINDLING-CPL3 syscall=landed-cpl0 syscall_rcx=next syscall_r11=rflags int80=vector-128 sysenter=vector-6 ud2=vector-6 cli=vector-13 kread=vector-14", r.Lines);
        Assert.Contains("KINDLING-TLB first=ok invlpg=ok cr3=ok unmap=fault", r.Lines);
    }

    [Fact]
    public async Task Cmdline_OnQemuMicrovm_EchoesExactlyWhatQemuWasGiven()
    {
        const string append = "kindling.test=cmdline  console=ttyS0 a=b=c \"two words\" path=/x/y:z trailing";

        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, append));

        AssertPassed(r, "cmdline");
        Assert.Contains($"KINDLING-CMDLINE<<<{append}>>>", r.Lines);
    }

    /// <summary>
    /// <c>kindling.entry=linux64</c>: the guest's PVH entry builds a zero page and re-enters through the 64-bit Linux
    /// entry that kindling-vmm uses, so that entry (GDT/CR3 switch, boot_params command line) is checked on QEMU too.
    /// </summary>
    [Theory]
    [InlineData("timer", 1)]
    [InlineData("smp", 2)]
    public async Task Scenario_ThroughTheLinux64EntryOnQemu_Passes(string scenario, int cpus)
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath,
            $"kindling.test={scenario} kindling.entry=linux64 kindling.cpus={cpus}") { Cpus = cpus });

        AssertPassed(r, scenario);
    }

    [Fact]
    public async Task Cmdline_ThroughTheLinux64EntryOnQemu_EchoesTheBootParamsCommandLine()
    {
        const string append = "kindling.test=cmdline kindling.entry=linux64 quiet x=\"y z\"";

        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, append));

        AssertPassed(r, "cmdline");
        Assert.Contains($"KINDLING-CMDLINE<<<{append}>>>", r.Lines);
    }

    [Fact]
    public async Task Hello_ThroughTheLinux64EntryOnQemu_RunsFromTheLinuxEntry()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=hello kindling.entry=linux64"));

        AssertPassed(r, "hello");
        Assert.Contains("Hello from the Kindling test guest (64-bit Linux entry)", r.Lines);
    }

    [Fact]
    public async Task UnknownScenario_OnQemuMicrovm_FailsNamingIt()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=nosuch"));

        Assert.Contains("KINDLING-TEST nosuch FAIL unknown scenario 'nosuch'", r.Lines);
        Assert.Equal(QemuMicrovm.FailExitCode, r.ExitCode);
    }

    [Fact]
    public async Task Loop_OnQemuMicrovm_PrintsBothMarkersAroundTheLoop()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=loop kindling.loops=1000000"));

        AssertPassed(r, "loop");
        TimeSpan? start = r.TimeOf("KINDLING-LOOP-START 1000000");
        TimeSpan? end = r.TimeOf("KINDLING-LOOP-END 1000000");
        Assert.True(start is not null && end is not null && end >= start, r.Describe());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Smp_OnQemuMicrovm_EveryVcpuChecksIn(int cpus)
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, $"kindling.test=smp kindling.cpus={cpus}") { Cpus = cpus });

        AssertPassed(r, "smp");
        Assert.Contains(r.Lines, l => l.StartsWith($"smp: {cpus} of {cpus} vCPUs checked in", StringComparison.Ordinal));
    }

    /// <summary>
    /// Without kindling.cpus the guest counts the MP table's processors: QEMU microvm's firmware (qboot) writes its
    /// own table at 0x9fc00, so the guest's MP parser is checked against a table that is not ours.
    /// </summary>
    [Fact]
    public async Task Smp_OnQemuMicrovmWithoutCount_TakesTheCountFromQemusMpTable()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=smp") { Cpus = 2 });

        AssertPassed(r, "smp");
        Assert.Contains("smp: BSP APIC ID 0, expecting 2 vCPUs (from MP table)", r.Lines);
    }

    [Fact]
    public async Task Smp_FewerVcpusThanExpected_FailsWithTheCount()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=smp kindling.cpus=3") { Cpus = 2 });

        Assert.Contains("KINDLING-TEST smp FAIL 2 of 3 vCPUs checked in", r.Lines);
        Assert.Equal(QemuMicrovm.FailExitCode, r.ExitCode);
    }

    [Fact]
    public async Task Timer_OnQemuMicrovm_LapicAndPitInterruptsArrive()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=timer"));

        AssertPassed(r, "timer");
        Assert.Contains("timer: LAPIC timer interrupt arrived", r.Lines);
        Assert.Contains("timer: PIT interrupt arrived through the IOAPIC", r.Lines);
    }

    [Fact]
    public async Task Blk_OnQemuMicrovm_ReadsWritesFlushesAndReadOnlyDriveRefusesWrites()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-guest-blk-");
        try
        {
            string rw = BlockImages.Create(dir.FullName, readOnly: false);
            string ro = BlockImages.Create(dir.FullName, readOnly: true);
            byte[] roBefore = File.ReadAllBytes(ro);

            GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=blk") { Acpi = false }
                .AddDrive(rw, readOnly: false).AddDrive(ro, readOnly: true));

            AssertPassed(r, "blk");
            Assert.Contains("blk: flushed", r.Lines);
            Assert.Contains("blk: write to the read-only drive refused with IOERR, sector unchanged", r.Lines);
            Assert.Equal(2, r.Lines.Count(l => l.EndsWith("used-buffer interrupts through the IOAPIC", StringComparison.Ordinal)));
            Assert.Equal(BlockImages.WrittenSector1, BlockImages.ReadSector(rw, 1));
            Assert.Equal(BlockImages.Sector0(readOnly: false), BlockImages.ReadSector(rw, 0));
            Assert.Equal(roBefore, File.ReadAllBytes(ro));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Blk_WithoutReadOnlyDrive_FailsNamingWhatIsMissing()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-guest-blk-");
        try
        {
            string rw = BlockImages.Create(dir.FullName, readOnly: false);

            GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=blk").AddDrive(rw, readOnly: false));

            Assert.Contains("KINDLING-TEST blk FAIL found 1 virtio-blk devices; the test needs one read-write and one read-only (VIRTIO_BLK_F_RO)", r.Lines);
            Assert.Equal(QemuMicrovm.FailExitCode, r.ExitCode);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Rng_OnQemuMicrovmPolled_ReadsVariedEntropy()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=rng").AddRng());

        AssertPassed(r, "rng");
        Assert.Contains(r.Lines, l => l.EndsWith("used-buffer interrupts (InterruptStatus, polled)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rng_OnQemuMicrovmFromTheCommandLine_TakesUsedBufferInterruptsThroughTheIoapic()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=rng") { Acpi = false }.AddRng());

        AssertPassed(r, "rng");
        Assert.Contains(r.Lines, l => l.StartsWith("virtio: device 4 at feb00e00 irq 12:", StringComparison.Ordinal));
        Assert.Contains(r.Lines, l => l.EndsWith("used-buffer interrupts through the IOAPIC", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rng_WithIrqOnAPinNothingRaises_FailsNamingTheIrq()
    {
        // The transport (slot 7, GSI 12) announced on pin 16, which QEMU never raises: the guest must notice.
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath,
            "kindling.test=rng virtio_mmio.device=512@0xfeb00e00:16") { Acpi = false, AutoKernelCmdline = false }.AddRng());

        Assert.Contains(r.Lines, l => l.StartsWith("KINDLING-TEST rng FAIL device 4 at ", StringComparison.Ordinal) &&
                                      l.EndsWith("no used-buffer interrupt arrived on IRQ 16", StringComparison.Ordinal));
        Assert.Equal(QemuMicrovm.FailExitCode, r.ExitCode);
    }

    [Fact]
    public async Task Rng_OnLegacyTransport_FailsNamingTheVersion()
    {
        GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=rng") { ModernVirtio = false }.AddRng());

        Assert.Contains(r.Lines, l => l.StartsWith("KINDLING-TEST rng FAIL virtio-mmio device 4 at ", StringComparison.Ordinal) &&
                                      l.Contains("has version 1", StringComparison.Ordinal));
        Assert.Equal(QemuMicrovm.FailExitCode, r.ExitCode);
    }

    [Fact]
    public async Task Net_OnQemuMicrovmOverUdp_SendsAFrameAndReceivesTheReply()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using UdpClient peer = new(new IPEndPoint(IPAddress.Loopback, 0));
        int qemuPort = FreeUdpPort();
        string reply = $"{EthernetFrames.HostPayloadPrefix} {Guid.NewGuid():N}";
        QemuMicrovm vm = new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=net") { Acpi = false }
            .AddNetUdp(qemuPort, ((IPEndPoint)peer.Client.LocalEndPoint!).Port, GuestMac);

        Task<GuestRunResult> run = RunAsync(vm);
        byte[]? guestFrame = null;
        using (CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            wait.CancelAfter(FrameTimeout);
            while (guestFrame is null && !run.IsCompleted)
            {
                try
                {
                    UdpReceiveResult got = await peer.ReceiveAsync(wait.Token);
                    guestFrame = EthernetFrames.IsGuestFrame(got.Buffer) ? got.Buffer : null;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    break;
                }
            }
        }

        if (guestFrame is not null)
        {
            await peer.SendAsync(EthernetFrames.HostFrame(reply), new IPEndPoint(IPAddress.Loopback, qemuPort), ct);
        }

        GuestRunResult r = await run;
        Assert.True(guestFrame is not null, $"the guest's frame never reached the host; {r.Describe()}");
        AssertPassed(r, "net");
        Assert.Contains(r.Lines, l => l.StartsWith(EthernetFrames.ReceivedLine(reply), StringComparison.Ordinal));
    }

    [RootFact]
    public async Task Net_OnQemuMicrovmOverTap_SendsAFrameAndReceivesTheReply()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using TapDevice tap = TapDevice.Create();
        using PacketSocket wire = new(tap.Name);
        string reply = $"{EthernetFrames.HostPayloadPrefix} {Guid.NewGuid():N}";

        Task<GuestRunResult> run = RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=net") { Acpi = false }
            .AddNetTap(tap.Name, GuestMac));
        (GuestRunResult r, bool guestFrameSeen) = await EthernetFrames.ExchangeAsync(run, wire, reply, FrameTimeout, ct);
        Assert.True(guestFrameSeen, $"the guest's frame never appeared on {tap.Name}; {r.Describe()}");
        AssertPassed(r, "net");
        Assert.Contains(r.Lines, l => l.StartsWith(EthernetFrames.ReceivedLine(reply), StringComparison.Ordinal));
    }

    /// <summary>
    /// Not a timing assertion: ten boots must all pass; the median time from process start to the first serial
    /// byte is written to the test output (a baseline for kindling-vmm's launch time).
    /// </summary>
    [Fact]
    public async Task Hello_TenQemuBoots_AllPassAndReportMedianTimeToFirstByte()
    {
        List<double> ms = [];
        for (int i = 0; i < 10; i++)
        {
            GuestRunResult r = await RunAsync(new QemuMicrovm(GuestBuilder.ImagePath, "kindling.test=hello"));
            AssertPassed(r, "hello");
            Assert.NotNull(r.FirstByte);
            ms.Add(r.FirstByte.Value.TotalMilliseconds);
        }

        ms.Sort();
        double median = (ms[4] + ms[5]) / 2;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"QEMU microvm TCG hello: process start to first serial byte, median of 10: {median:F1} ms (min {ms[0]:F1}, max {ms[9]:F1})");
    }

    private static int FreeUdpPort()
    {
        using UdpClient probe = new(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
    }
}
