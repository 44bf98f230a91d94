using Kindling.Vmm.Boot;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.EventLoop;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>
/// A whole microVM: the KVM machine plus the virtio devices of the config (drives, network interfaces, vsock,
/// entropy), each on its own virtio-mmio slot in the MMIO gap with an irqfd interrupt and ioeventfd queue
/// notifications served by one device event loop. Devices are announced to the guest on the kernel command line
/// (<c>virtio_mmio.device=4K@ADDR:GSI</c>), in config order: drives, then network interfaces, vsock, entropy.
/// </summary>
public sealed partial class MicroVm : IDisposable
{
    /// <summary>Size of one virtio-mmio slot.</summary>
    public const ulong VirtioMmioSlotSize = 0x1000;

    private readonly List<IDisposable> _owned = [];
    private readonly ILogger _logger;
    private int _slots;

    private MicroVm(VirtualMachine machine, EpollLoop loop, ILoggerFactory loggers)
    {
        Machine = machine;
        DeviceLoop = loop;
        _logger = loggers.CreateLogger("Kindling.Vmm.MicroVm");
    }

    public VirtualMachine Machine { get; }

    /// <summary>The thread that runs all device I/O.</summary>
    public EpollLoop DeviceLoop { get; }

    /// <summary>
    /// Creates the machine and its devices. <paramref name="interceptorFor"/> gives the frame interceptor (the
    /// metadata service) for a network interface, or null. Throws <see cref="Kvm.KvmException"/>,
    /// <see cref="VirtioDeviceException"/> (missing disk file or TAP, naming it) and leaves nothing open on failure.
    /// <paramref name="prepared"/>: the KVM VM made ahead of InstanceStart, if any (owned from here).
    /// </summary>
    public static MicroVm Create(
        VmConfig config,
        VirtualMachineOptions options,
        ILoggerFactory loggers,
        TimeProvider time,
        Func<NetworkInterfaceConfig, IFrameInterceptor?>? interceptorFor = null,
        PreparedVm? prepared = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Build(VirtualMachine.Create(options, loggers, prepared), config, loggers, time, interceptorFor);
    }

    /// <summary>Adds the configuration's devices to <paramref name="machine"/> (owned from here: disposed on failure).</summary>
    private static MicroVm Build(
        VirtualMachine machine,
        VmConfig config,
        ILoggerFactory loggers,
        TimeProvider time,
        Func<NetworkInterfaceConfig, IFrameInterceptor?>? interceptorFor)
    {
        EpollLoop? loop = null;
        MicroVm? vm = null;
        try
        {
            loop = new EpollLoop(time, loggers.CreateLogger<EpollLoop>());
            vm = new MicroVm(machine, loop, loggers);
            vm.AddDevices(config, new VirtioDeviceFactory(loop, time, loggers), interceptorFor);
            return vm;
        }
        catch
        {
            if (vm is not null)
            {
                vm.Dispose();
            }
            else
            {
                loop?.Dispose();
                machine.Dispose();
            }

            throw;
        }
    }

    private void AddDevices(VmConfig config, VirtioDeviceFactory factory, Func<NetworkInterfaceConfig, IFrameInterceptor?>? interceptorFor)
    {
        foreach (DriveConfig drive in config.Drives)
        {
            Devices.Virtio.Block.VirtioBlock block = factory.CreateBlock(drive);
            _owned.Add(block);
            Attach(block, $"drive {drive.DriveId}", "block", drive.DriveId);
        }

        foreach (NetworkInterfaceConfig iface in config.NetworkInterfaces)
        {
            VirtioNet net = factory.CreateNet(iface, interceptorFor?.Invoke(iface));
            _owned.Add(net);
            Attach(net, $"network interface {iface.IfaceId}", "net", iface.IfaceId);
        }

        if (config.Vsock is { } vsockConfig)
        {
            var vsock = factory.CreateVsock(vsockConfig);
            _owned.Add(vsock);
            Attach(vsock, "vsock", "vsock", "vsock");
        }

        if (config.Entropy is { } entropy)
        {
            var rng = factory.CreateRng(entropy);
            _owned.Add(rng);
            Attach(rng, "entropy", "rng", "entropy");
        }
    }

    /// <summary>Boots the guest (see <see cref="VirtualMachine.Start"/>).</summary>
    public void Start() => Machine.Start();

    private void Attach(IVirtioDevice device, string what, string kind, string id)
    {
        var slot = new GuestAddress(BootLayout.MmioGapStart + (ulong)_slots * VirtioMmioSlotSize);
        _slots++;
        uint gsi = Machine.AllocateIrq();
        var interrupt = new IrqFdInterrupt(Machine, gsi);
        _owned.Add(interrupt);

        QueueNotifyBinding? binding = null;
        var transport = new MmioTransport(device, Machine.Memory, interrupt, q => binding?.Notify(q), _logger, DeviceLoop.Time);
        binding = new QueueNotifyBinding(DeviceLoop, transport, slot.Value);
        _owned.Add(binding);
        foreach (QueueNotifyRegistration r in binding.Registrations)
        {
            Machine.RegisterIoEventFd(binding.EventFd(r.QueueIndex), new GuestAddress(r.Address), (uint)r.Length, r.DataMatch);
        }

        Machine.AddMmioDevice(slot, VirtioMmioSlotSize, transport);
        _virtio.Add(new AttachedDevice(kind, id, slot.Value, gsi, transport, device));
        Machine.CommandLine.Append($"virtio_mmio.device=4K@0x{slot.Value:x}:{gsi}");
        LogDeviceSlot(_logger, what, slot.Value, gsi);
    }

    public void Dispose()
    {
        // The machine first: no vCPU may touch a device while it is torn down.
        Machine.Dispose();
        DeviceLoop.Dispose();
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{What}: virtio-mmio at 0x{Address:x}, GSI {Gsi}")]
    private static partial void LogDeviceSlot(ILogger logger, string what, ulong address, uint gsi);
}
