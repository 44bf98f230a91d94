using Kindling.Vmm.Api;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Tests.Api;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>
/// What the real backend refuses (and <see cref="FakeVmmBackend"/> must refuse the same way): pause, resume,
/// Ctrl+Alt+Del and device changes after boot, before a start and after a start that failed; FlushMetrics
/// without a metrics destination. No KVM needed.
/// </summary>
public sealed class MicroVmBackendRefusalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-backend-").FullName;

    public static TheoryData<string, string> Refusals => new()
    {
        { "Pause", "pausing a microVM needs a started microVM" },
        { "Resume", "resuming a microVM needs a started microVM" },
        { "SendCtrlAltDel", "SendCtrlAltDel is not supported: Kindling's i8042 only resets; have the guest run `reboot -f`" },
        { "UpdateBlockDevice", "drive rootfs: PATCH /drives needs a started microVM" },
        { "UpdateNetworkRateLimiters", "network interface eth0: changing rate limiters after boot is not supported yet" },
        { "FlushMetrics", "FlushMetrics: no metrics destination is configured (PUT /metrics first)" },
    };

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Operation_NotStarted_RefusedWithItsReason(string operation, string message)
    {
        using MicroVmBackend backend = NewBackend();

        VmmActionException e = Assert.Throws<VmmActionException>(() => Invoke(backend, operation));

        Assert.Equal(message, e.Message);
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Operation_AfterAFailedStart_StillRefused(string operation, string message)
    {
        using MicroVmBackend backend = NewBackend();
        VmmActionException start = Assert.Throws<VmmActionException>(() => backend.Start(MissingKernel(), new MmdsDataStore(TimeProvider.System)));
        Assert.Contains("does not exist", start.Message, StringComparison.Ordinal);
        Assert.False(backend.Started.IsCompleted);

        VmmActionException e = Assert.Throws<VmmActionException>(() => Invoke(backend, operation));

        Assert.Equal(message, e.Message);
    }

    /// <summary>The fake refuses the same operations with the same words (it is what ApiServerTests run against).</summary>
    [Theory]
    [MemberData(nameof(Refusals))]
    public void FakeBackend_SameOperation_SameRefusal(string operation, string message)
    {
        using var fake = new FakeVmmBackend();

        VmmActionException e = Assert.Throws<VmmActionException>(() => Invoke(fake, operation));

        Assert.Equal(message, e.Message);
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public void Start_NoBootSource_RefusedNamingTheField()
    {
        using MicroVmBackend backend = NewBackend();

        VmmActionException e = Assert.Throws<VmmActionException>(() => backend.Start(new VmConfig(), new MmdsDataStore(TimeProvider.System)));

        Assert.Contains("boot-source", e.Message, StringComparison.Ordinal);
        Assert.False(backend.Started.IsCompleted);
    }

    [Fact]
    public async Task Start_NothingPreparedAheadForWantOfKvm_ReportsKvmsOwnErrorAtInstanceStart()
    {
        Assert.SkipWhen(File.Exists(Kindling.Vmm.Kvm.KvmSystem.DevicePath), "this host has /dev/kvm: the fallback's error cannot be seen here");
        string kernel = Path.Combine(_dir, "vmlinux");
        File.WriteAllBytes(kernel, [0x7f, (byte)'E', (byte)'L', (byte)'F']);
        Task<Kindling.Vmm.Machine.PreparedVm?> prepared = Kindling.Vmm.Machine.PreparedVm.PrepareAhead(Kindling.Vmm.Kvm.KvmSystem.DevicePath, NullLogger.Instance);
        using var backend = new MicroVmBackend(NullLoggerFactory.Instance, TimeProvider.System, "backend-test",
            () => new Kindling.Vmm.Machine.StreamSerialOutput(Stream.Null), prepared: prepared);
        VmConfig config = VmConfigJson.Parse<VmConfig>($$"""{ "boot-source": { "kernel_image_path": "{{kernel}}" } }""", "test config");

        VmmActionException e = Assert.Throws<VmmActionException>(() => backend.Start(config, new MmdsDataStore(TimeProvider.System)));

        Assert.Null(await prepared);
        Assert.Contains("/dev/kvm not found: load kvm_intel or kvm_amd", e.Message, StringComparison.Ordinal);
        Assert.False(backend.Started.IsCompleted);
    }

    private static MicroVmBackend NewBackend() =>
        new(NullLoggerFactory.Instance, TimeProvider.System, "backend-test", () => new Kindling.Vmm.Machine.StreamSerialOutput(Stream.Null));

    private VmConfig MissingKernel() =>
        VmConfigJson.Parse<VmConfig>($$"""{ "boot-source": { "kernel_image_path": "{{Path.Combine(_dir, "no-such-vmlinux")}}" } }""", "test config");

    private static void Invoke(IVmmBackend backend, string operation)
    {
        switch (operation)
        {
            case "Pause": backend.Pause(); break;
            case "Resume": backend.Resume(); break;
            case "SendCtrlAltDel": backend.SendCtrlAltDel(); break;
            case "UpdateBlockDevice": backend.UpdateBlockDevice("rootfs", "new.ext4", null); break;
            case "UpdateNetworkRateLimiters": backend.UpdateNetworkRateLimiters("eth0", null, null); break;
            case "FlushMetrics": backend.FlushMetrics(); break;
            default: throw new ArgumentOutOfRangeException(nameof(operation), operation, null);
        }
    }
}
