using System.Runtime.InteropServices;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Devices;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Emulation;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>
/// One microVM on KVM: guest RAM, the in-kernel IRQ chip and PIT, the port-I/O and MMIO buses with COM1 (0x3f8,
/// IRQ 4) and the i8042 (0x60/0x64), and one thread per vCPU running KVM_RUN and dispatching its exits.
/// <para>Life cycle: <see cref="Create"/> (KVM checks, VM, memory, legacy devices) → integrators add devices
/// (<see cref="AddMmioDevice"/>, <see cref="AllocateInterrupt"/>, <see cref="RegisterIoEventFd"/>, append to
/// <see cref="CommandLine"/>) → <see cref="Start"/> (loads the kernel, builds boot_params, configures and starts the
/// vCPUs) → <see cref="Completion"/> when the guest resets, faults or <see cref="Stop"/> is called → Dispose.</para>
/// </summary>
public sealed partial class VirtualMachine : IDisposable
{
    /// <summary>COM1.</summary>
    public const ushort SerialPort = 0x3f8;

    /// <summary>COM1's ISA interrupt.</summary>
    public const uint SerialIrq = 4;

    private const ulong Mib = 1024 * 1024;

    private readonly VirtualMachineOptions _options;
    private readonly ILogger _logger;
    private readonly KvmSystem _kvm;
    private readonly VmFd _vm;
    private readonly GuestMemoryMmap _memory;
    private readonly IrqAllocator _irqs = new();
    private readonly VcpuRunLoop<VcpuFd> _loop;
    private readonly StartPhases _phases;
    private int _started;
    private bool _disposed;
    private StreamWriter? _ripSamples;
    private readonly object _ripSampleGate = new();

    private VirtualMachine(VirtualMachineOptions options, ILoggerFactory loggerFactory, KvmSystem kvm, VmFd vm, CpuidEntry[] supportedCpuid, GuestMemoryMmap memory, StartPhases phases)
    {
        _options = options;
        _logger = loggerFactory.CreateLogger<VirtualMachine>();
        _kvm = kvm;
        _vm = vm;
        _supportedCpuid = supportedCpuid;
        _memory = memory;
        _phases = phases;
        _loop = new VcpuRunLoop<VcpuFd>(HandleExit, Stop, OnFirstRun);
        PortIo = new DeviceBus("port I/O", loggerFactory.CreateLogger("Kindling.Vmm.Machine.PortIoBus"));
        Mmio = new DeviceBus("MMIO", loggerFactory.CreateLogger("Kindling.Vmm.Machine.MmioBus"));
        CommandLine = new KernelCommandLine(options.BootArgs);

        SerialInterrupt = new IrqLineInterrupt(vm, SerialIrq);
        Serial = new Serial8250(SerialInterrupt, options.SerialOutput);
        PortIo.Register(SerialPort, Uart8250Registers.Size, Serial);
        I8042 = new I8042();
        I8042.ResetRequested += () => Stop(new VmExit(VmExitReason.GuestReset));
        PortIo.Register(I8042.BasePort, I8042.Size, I8042);
        Fallback = options.CpuTemplate == CpuTemplate.Emulated ? new InstructionFallback(memory) : null;
    }

    public VirtualMachineOptions Options => _options;

    public IGuestMemory Memory => _memory;

    /// <summary>(guest address, host address, size) of each RAM region, as registered with KVM.</summary>
    public IReadOnlyList<HostMappedRegion> MemoryRegions => _memory.HostRegions;

    public DeviceBus PortIo { get; }

    public DeviceBus Mmio { get; }

    public Serial8250 Serial { get; }

    public IrqLineInterrupt SerialInterrupt { get; }

    public I8042 I8042 { get; }

    /// <summary>
    /// Completes instructions the host's KVM emulator rejects (<see cref="CpuTemplate.Emulated"/> only; null
    /// otherwise, and such an exit stops the VM with the instruction bytes).
    /// </summary>
    public InstructionFallback? Fallback { get; }

    /// <summary>The kernel command line; append device parameters before <see cref="Start"/>.</summary>
    public KernelCommandLine CommandLine { get; }

    /// <summary>Completes once every vCPU thread has left KVM_RUN, with the first stop reason.</summary>
    public Task<VmExit> Completion => _loop.Completion;

    /// <summary>
    /// Opens KVM (checking the API version and capabilities), creates the VM with its TSS and identity-map pages,
    /// in-kernel IRQ chip and PIT — or takes <paramref name="prepared"/>, made ahead of InstanceStart on the same KVM
    /// device — maps and registers guest RAM, and adds COM1 and the i8042. The machine owns
    /// <paramref name="prepared"/> from here (disposed on failure, or when it names another KVM device).
    /// Throws <see cref="KvmException"/> with an actionable message when KVM is missing or unfit.
    /// </summary>
    public static VirtualMachine Create(VirtualMachineOptions options, ILoggerFactory loggerFactory, PreparedVm? prepared = null) =>
        Create(options, loggerFactory, prepared, () => GuestMemoryMmap.Create((ulong)options.MemSizeMib * Mib));

    private static VirtualMachine Create(VirtualMachineOptions options, ILoggerFactory loggerFactory, PreparedVm? prepared, Func<GuestMemoryMmap> mapMemory)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(options);
            ArgumentOutOfRangeException.ThrowIfLessThan(options.VcpuCount, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(options.MemSizeMib, 1);
        }
        catch
        {
            prepared?.Dispose();
            throw;
        }

        var phases = new StartPhases();
        if (prepared is not null && prepared.DevicePath != options.KvmDevicePath)
        {
            prepared.Dispose();
            prepared = null;
        }

        if (prepared is not null)
        {
            foreach ((string phase, TimeSpan took) in prepared.Phases)
            {
                phases.AddAhead(phase, took);
            }
        }

        using PreparedVm vmBase = prepared ?? PreparedVm.Create(options.KvmDevicePath);
        phases.Mark(prepared is null ? "kvm open+vm create" : "prepared vm taken");
        GuestMemoryMmap? memory = null;
        try
        {
            memory = mapMemory();
            (KvmSystem kvm, VmFd vm) = vmBase.Take();
            try
            {
                uint slot = 0;
                foreach (HostMappedRegion region in memory.HostRegions)
                {
                    vm.SetUserMemoryRegion(slot++, region.GuestAddress.Value, region.Size, region.HostAddress);
                }

                phases.Mark("guest memory");
                return new VirtualMachine(options, loggerFactory, kvm, vm, vmBase.SupportedCpuid, memory, phases);
            }
            catch
            {
                vm.Dispose();
                kvm.Dispose();
                throw;
            }
        }
        catch
        {
            memory?.Dispose();
            throw;
        }
    }

    /// <summary>Maps an MMIO device (e.g. a virtio-mmio transport) at [<paramref name="baseAddress"/>, +<paramref name="size"/>).</summary>
    public void AddMmioDevice(GuestAddress baseAddress, ulong size, IBusDevice device)
    {
        if (_memory.IsValidRange(baseAddress, 1) || _memory.Regions.Any(r => baseAddress.Value < r.End && r.Start.Value < baseAddress.Value + size))
        {
            throw new ArgumentException($"MMIO device at {baseAddress} +0x{size:x} overlaps guest RAM; place it in the MMIO gap", nameof(baseAddress));
        }

        Mmio.Register(baseAddress.Value, size, device);
    }

    /// <summary>Maps a port-I/O device at [<paramref name="basePort"/>, +<paramref name="size"/>).</summary>
    public void AddPortIoDevice(ushort basePort, ushort size, IBusDevice device) => PortIo.Register(basePort, size, device);

    /// <summary>Allocates a device GSI (5..23) and an edge trigger for it (KVM_IRQ_LINE pulse).</summary>
    public (uint Gsi, IInterruptTrigger Trigger) AllocateInterrupt()
    {
        uint gsi = _irqs.Allocate();
        return (gsi, new IrqLineInterrupt(_vm, gsi));
    }

    /// <summary>Allocates a device GSI (5..23) for use with <see cref="RegisterIrqFd"/>.</summary>
    public uint AllocateIrq() => _irqs.Allocate();

    /// <summary>KVM_IRQFD: a write of the eventfd <paramref name="eventFd"/> raises GSI <paramref name="gsi"/> in the kernel.</summary>
    public void RegisterIrqFd(SafeHandle eventFd, uint gsi) => _vm.RegisterIrqFd(eventFd, gsi);

    /// <summary>KVM_IOEVENTFD on an MMIO address (e.g. a virtio QueueNotify register, datamatch = queue index).</summary>
    public void RegisterIoEventFd(SafeHandle eventFd, GuestAddress address, uint length, ulong? datamatch) =>
        _vm.RegisterIoEventFd(eventFd, address.Value, length, datamatch, isPio: false);

    /// <summary>
    /// Loads the kernel (and initrd), writes the MP table, e820 map, command line and boot_params, sets up long
    /// mode, creates and configures the vCPUs and starts one thread per vCPU. Throws <see cref="BootException"/> for
    /// a bad kernel/initrd, <see cref="KvmException"/> when KVM refuses the vCPU state.
    /// </summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("the VM was already started");
        }

        int count = _options.VcpuCount;
        _phases.Mark("devices");
        LoadedKernel kernel = KernelLoader.Load(_memory, _options.KernelImagePath);
        _phases.Mark("kernel load");
        GuestRegion? initrd = _options.InitrdPath is { Length: > 0 } initrdPath
            ? InitrdLoader.Load(_memory, initrdPath, kernel)
            : null;
        _phases.Mark("initrd load");
        MpTable.Write(_memory, count);
        string additions = CpuidTemplates.KernelCommandLineAdditions(_options.CpuTemplate);
        CommandLine.Append(additions);
        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(_memory);
        GuestAddress bootParams = LinuxBoot.WriteBootParams(_memory, kernel, CommandLine.ToString(), initrd, e820);
        LongModeState longMode = LongMode.Setup(_memory);
        _phases.Mark("boot tables");

        LogBooting(_logger, kernel.Format, _options.KernelImagePath, kernel.EntryPoint, count, _options.MemSizeMib, CommandLine);

        LaunchVcpus(vcpu => VcpuSetup.ConfigureBoot(vcpu, longMode, kernel.EntryPoint, bootParams), paused: false);

        if (_options.RipSamplePath is { } samplePath)
        {
            _ripSamples = new StreamWriter(samplePath, append: false) { AutoFlush = false };
            new Thread(SampleRips) { IsBackground = true, Name = "rip-sampler" }.Start();
        }
    }

    /// <summary>Kicks every vCPU out of KVM_RUN at the sample interval; <see cref="HandleExit"/> records RIP.</summary>
    private void SampleRips()
    {
        while (!_loop.IsStopping)
        {
            Thread.Sleep(_options.RipSampleInterval);
            _loop.KickRunning();
        }

        lock (_ripSampleGate)
        {
            _ripSamples?.Flush();
        }
    }

    private void RecordRip(VcpuFd vcpu)
    {
        ulong rip = vcpu.GetRegs().Rip;
        lock (_ripSampleGate)
        {
            _ripSamples?.WriteLine($"{vcpu.Id} {rip:x}");
        }
    }

    /// <summary>
    /// Stops every vCPU (immediate_exit + kick signal); the first reason given is the VM's exit. Safe from any
    /// thread, including a vCPU thread (the i8042 reset handler), and idempotent.
    /// </summary>
    public void Stop(VmExit? reason = null)
    {
        reason ??= new VmExit(VmExitReason.Stopped);
        // Logged at Information even for errors: the owner reports the exit (kindling-vmm prints exactly one line).
        if (_loop.TrySetExitReason(reason))
        {
            LogStopping(_logger, reason);
        }

        _loop.Stop(reason);
    }

    /// <summary>Blocks until the VM has stopped.</summary>
    public VmExit WaitForExit() => Completion.GetAwaiter().GetResult();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        Stop(new VmExit(VmExitReason.Stopped));
        _loop.Join();
        _disposed = true;
        foreach (VcpuFd vcpu in _loop.Vcpus)
        {
            vcpu.Dispose();
        }

        Serial.Dispose();
        lock (_ripSampleGate)
        {
            _ripSamples?.Dispose();
            _ripSamples = null;
        }

        _vm.Dispose();
        _kvm.Dispose();
        _memory.Dispose();
    }

    /// <summary>Handles one exit; false when this vCPU must stop.</summary>
    private bool HandleExit(VcpuFd vcpu, VcpuExit exit)
    {
        switch (exit.Kind)
        {
            case VcpuExitKind.IoIn:
            case VcpuExitKind.IoOut:
                // INS/OUTS with a REP prefix hand over Count elements of Size bytes, all for the same port.
                Span<byte> data = vcpu.ExitData;
                for (int i = 0; exit.Size > 0 && i + exit.Size <= data.Length; i += exit.Size)
                {
                    if (exit.Kind == VcpuExitKind.IoIn)
                    {
                        PortIo.Read(exit.Address, data.Slice(i, exit.Size));
                    }
                    else
                    {
                        PortIo.Write(exit.Address, data.Slice(i, exit.Size));
                    }
                }

                return true;
            case VcpuExitKind.MmioRead:
                Mmio.Read(exit.Address, vcpu.ExitData);
                return true;
            case VcpuExitKind.MmioWrite:
                Mmio.Write(exit.Address, vcpu.ExitData);
                return true;
            case VcpuExitKind.Intr:
                if (_ripSamples is not null)
                {
                    RecordRip(vcpu);
                }

                return true;
            case VcpuExitKind.Hlt:
                Stop(new VmExit(VmExitReason.Halted, $"vCPU {vcpu.Id} halted"));
                return false;
            case VcpuExitKind.InternalError when Fallback is not null && exit.Code == KvmExitReason.InternalErrorEmulation:
                return CompleteRejectedInstruction(vcpu, exit);
            default:
                Stop(new VmExit(VmExitReason.Error, VcpuExitDiagnostics.Describe(vcpu, exit, _memory)));
                return false;
        }
    }

    /// <summary>Completes an instruction the host emulator rejected; stops the VM (bytes and RIP in the reason) when it cannot.</summary>
    private bool CompleteRejectedInstruction(VcpuFd vcpu, VcpuExit exit)
    {
        byte[]? bytes = EmulationFailure.InstructionBytes(exit) ?? VcpuExitDiagnostics.ReadInstructionBytesAtRip(vcpu, _memory);
        FallbackOutcome outcome = bytes is null ? new(null, "instruction bytes unavailable") : Fallback!.TryComplete(new VcpuFallbackCpu(vcpu), bytes);
        if (outcome.Completed)
        {
            return true;
        }

        Stop(new VmExit(VmExitReason.Error, $"{VcpuExitDiagnostics.Describe(vcpu, exit, _memory)} ({outcome.Failure})"));
        return false;
    }

    /// <summary>On the first vCPU's first KVM_RUN: the start is complete; logs where its time went.</summary>
    private void OnFirstRun()
    {
        _phases.Mark("first KVM_RUN");
        LogStartPhases(_logger, _phases);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "start phases: {Phases}")]
    private static partial void LogStartPhases(ILogger logger, StartPhases phases);

    [LoggerMessage(Level = LogLevel.Information, Message = "booting {Format} kernel {Path}: entry {Entry}, {Vcpus} vCPU(s), {Mib} MiB, cmdline \"{Cmdline}\"")]
    private static partial void LogBooting(ILogger logger, KernelFormat format, string path, GuestAddress entry, int vcpus, int mib, KernelCommandLine cmdline);

    [LoggerMessage(Level = LogLevel.Information, Message = "stopping the VM: {Reason}")]
    private static partial void LogStopping(ILogger logger, VmExit reason);
}
