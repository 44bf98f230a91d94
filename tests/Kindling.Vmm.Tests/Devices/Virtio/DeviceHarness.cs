using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio;

/// <summary>A device on an MMIO transport over fake guest RAM with a hole, driven like Linux drives it.</summary>
internal sealed class DeviceHarness
{
    public const ulong RamLow = 0x100000;          // [0, 1 MiB)
    public const ulong HighStart = 0x200000;       // [2 MiB, 3 MiB); [1 MiB, 2 MiB) is a hole
    public const ulong HighSize = 0x100000;

    public DeviceHarness(IVirtioDevice device, ushort queueSize = 16, ulong features = ulong.MaxValue, bool initialize = true)
    {
        Memory = new FakeGuestMemory(new GuestRegion(GuestAddress.Zero, RamLow), new GuestRegion(new GuestAddress(HighStart), HighSize));
        Device = device;
        Transport = new MmioTransport(device, Memory, Interrupt);
        Driver = new VirtioMmioDriver(Transport);
        int n = device.QueueMaxSizes.Count;
        Queues = new VirtQueueBuilder[n];
        for (int i = 0; i < n; i++)
        {
            ulong ringBase = 0x1000 + (0x4000UL * (ulong)i);
            ulong dataBase = 0x20000 + (0x30000UL * (ulong)i);
            Queues[i] = new VirtQueueBuilder(Memory, new GuestAddress(ringBase), queueSize, new GuestAddress(dataBase), 0x30000);
        }

        if (initialize)
        {
            AckedFeatures = Driver.Initialize(features, Queues);
        }
    }

    public FakeGuestMemory Memory { get; }

    public IVirtioDevice Device { get; }

    public MmioTransport Transport { get; }

    public VirtioMmioDriver Driver { get; }

    public CountingInterrupt Interrupt { get; } = new();

    public VirtQueueBuilder[] Queues { get; }

    public ulong AckedFeatures { get; }

    public VirtQueueBuilder Q => Queues[0];
}
