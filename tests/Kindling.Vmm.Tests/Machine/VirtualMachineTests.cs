using Kindling.Testing;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Tests.Machine;

public sealed class VirtualMachineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-vm-test").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Create_KvmDeviceMissing_ThrowsTheActionableMessage()
    {
        var options = new VirtualMachineOptions
        {
            KernelImagePath = "/nonexistent",
            SerialOutput = new StreamSerialOutput(Stream.Null),
            KvmDevicePath = Path.Combine(_dir, "no-kvm"),
        };

        Kindling.Vmm.Kvm.KvmException e = Assert.Throws<Kindling.Vmm.Kvm.KvmException>(() => VirtualMachine.Create(options, NullLoggerFactory.Instance));

        Assert.Contains("not found: load kvm_intel or kvm_amd", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateRestored_LayoutWrappingTheAddressSpace_RefusedAsASnapshotErrorBeforeKvm()
    {
        var options = new VirtualMachineOptions
        {
            KernelImagePath = "/nonexistent",
            SerialOutput = new StreamSerialOutput(Stream.Null),
            MemSizeMib = 1,
            KvmDevicePath = Path.Combine(_dir, "no-kvm"),
        };
        const ulong Mib = 1 << 20;
        Kindling.Vmm.Snapshot.MemoryRegionState[] layout = [new(ulong.MaxValue - (Mib / 2) + 1, Mib, 0)];

        Kindling.Vmm.Snapshot.SnapshotException e = Assert.Throws<Kindling.Vmm.Snapshot.SnapshotException>(() =>
            VirtualMachine.CreateRestored(options, NullLoggerFactory.Instance, Path.Combine(_dir, "mem"), layout));

        Assert.Contains("memory layout is invalid", e.Message, StringComparison.Ordinal);
        Assert.Contains("wraps around", e.Message, StringComparison.Ordinal);
    }

    [KvmFact]
    public void Create_ThenStopBeforeStart_CompletesStoppedAndRegistersLegacyDevices()
    {
        using VirtualMachine vm = VirtualMachine.Create(
            new VirtualMachineOptions { KernelImagePath = "unused", SerialOutput = new StreamSerialOutput(Stream.Null), MemSizeMib = 16 },
            NullLoggerFactory.Instance);

        Assert.NotNull(vm.PortIo.Find(VirtualMachine.SerialPort, 1));
        Assert.NotNull(vm.PortIo.Find(0x64, 1));
        Assert.Equal(16UL * 1024 * 1024, Assert.Single(vm.MemoryRegions).Size);
        vm.Stop();

        Assert.Equal(VmExitReason.Stopped, vm.WaitForExit().Reason);
    }

    [KvmFact]
    public void AddMmioDevice_OverlappingRam_Throws()
    {
        using VirtualMachine vm = VirtualMachine.Create(
            new VirtualMachineOptions { KernelImagePath = "unused", SerialOutput = new StreamSerialOutput(Stream.Null), MemSizeMib = 16 },
            NullLoggerFactory.Instance);

        Assert.Throws<ArgumentException>(() => vm.AddMmioDevice(new GuestAddress(0x1000), 0x1000, vm.I8042));
        vm.AddMmioDevice(new GuestAddress(0xd000_0000), 0x1000, vm.I8042);
        Assert.NotNull(vm.Mmio.Find(0xd000_0000, 4));
    }

    [KvmFact]
    public async Task Start_TinyGuest_PrintsItsMarkerAndResetsThroughTheI8042()
    {
        (VmExit exit, byte[] serial) = await RunToExitAsync(TinyElfGuest.Write(_dir));

        Assert.Equal(VmExitReason.GuestReset, exit.Reason);
        Assert.Equal([TinyElfGuest.Marker], serial);
    }

    [KvmFact]
    public async Task Start_WithAVmPreparedAhead_BootsTheTinyGuest()
    {
        using var serial = new MemoryStream();
        PreparedVm? prepared = await PreparedVm.PrepareAhead(Kindling.Vmm.Kvm.KvmSystem.DevicePath, NullLogger.Instance);
        Assert.NotNull(prepared);
        using VirtualMachine vm = VirtualMachine.Create(
            new VirtualMachineOptions { KernelImagePath = TinyElfGuest.Write(_dir), SerialOutput = new StreamSerialOutput(serial), MemSizeMib = 64 },
            NullLoggerFactory.Instance,
            prepared);

        vm.Start();
        VmExit exit = await vm.Completion.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(VmExitReason.GuestReset, exit.Reason);
        Assert.Equal([TinyElfGuest.Marker], serial.ToArray());
    }

    [Fact]
    public async Task PrepareAhead_NoKvmDevice_YieldsNullSoInstanceStartCreatesTheVm()
    {
        PreparedVm? prepared = await PreparedVm.PrepareAhead(Path.Combine(_dir, "no-kvm"), NullLogger.Instance);

        Assert.Null(prepared);
    }

    [Fact]
    public async Task PrepareAhead_DeviceThatIsNotKvm_YieldsNullInsteadOfThrowing()
    {
        string notKvm = Path.Combine(_dir, "not-kvm");
        await File.WriteAllBytesAsync(notKvm, [0], TestContext.Current.CancellationToken);

        PreparedVm? prepared = await PreparedVm.PrepareAhead(notKvm, NullLogger.Instance);

        Assert.Null(prepared);
        // InstanceStart then reports KVM's own error, as without preparation.
        var options = new VirtualMachineOptions { KernelImagePath = "/nonexistent", SerialOutput = new StreamSerialOutput(Stream.Null), KvmDevicePath = notKvm };
        Assert.Throws<Kindling.Vmm.Kvm.KvmException>(() => VirtualMachine.Create(options, NullLoggerFactory.Instance, prepared));
    }

    /// <summary>Boots <paramref name="kernel"/> in a 64 MiB VM until it stops; its exit and everything it wrote to COM1.</summary>
    private static async Task<(VmExit Exit, byte[] Serial)> RunToExitAsync(string kernel)
    {
        using var serial = new MemoryStream();
        using VirtualMachine vm = VirtualMachine.Create(
            new VirtualMachineOptions { KernelImagePath = kernel, SerialOutput = new StreamSerialOutput(serial), MemSizeMib = 64 },
            NullLoggerFactory.Instance);

        vm.Start();
        VmExit exit = await vm.Completion.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        return (exit, serial.ToArray());
    }

    /// <summary>
    /// String I/O: every element of an I/O exit goes to the device (KVM batches <c>rep insb</c> into one exit with
    /// count 8; a handler that served only the first element would leave the others unread).
    /// </summary>
    [KvmFact]
    public async Task Start_RepInsbAndRepOutsbGuest_EveryElementReachesTheDevice()
    {
        (VmExit exit, byte[] serial) = await RunToExitAsync(TinyElfGuest.WriteStringIo(_dir));

        Assert.Equal(VmExitReason.GuestReset, exit.Reason);
        Assert.Equal(Enumerable.Repeat(TinyElfGuest.StringIoMarker, TinyElfGuest.StringIoCount), serial);
    }

    [KvmFact]
    public async Task Stop_GuestSpinningInKvmRun_KicksEveryVcpuOut()
    {
        string kernel = TinyElfGuest.WriteSpinner(_dir);
        using VirtualMachine vm = VirtualMachine.Create(
            new VirtualMachineOptions { KernelImagePath = kernel, SerialOutput = new StreamSerialOutput(Stream.Null), MemSizeMib = 64, VcpuCount = 2 },
            NullLoggerFactory.Instance);
        vm.Start();

        vm.Stop();
        VmExit exit = await vm.Completion.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(VmExitReason.Stopped, exit.Reason);
    }
}
