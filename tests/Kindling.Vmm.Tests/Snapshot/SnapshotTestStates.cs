using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Snapshot;

namespace Kindling.Vmm.Tests.Snapshot;

/// <summary>A state with every section filled with recognisable values.</summary>
internal static class SnapshotTestStates
{
    public static readonly SnapshotOrigin Origin = new("GenuineIntel", "None");

    public static unsafe MicroVmState Sample()
    {
        KvmRegs regs = default;
        regs.Rip = 0x1000_0042;
        regs.Rax = 7;
        KvmXsave xsave = default;
        xsave.Region[0] = 0x037f;
        xsave.Region[KvmXsave.RegionWords - 1] = 0xdead_beef;
        KvmIrqchip ioapic = default;
        ioapic.ChipId = KvmIrqchip.Ioapic;
        ioapic.Chip[511] = 0x5a;
        KvmClockData clock = default;
        clock.Clock = 123_456_789;
        return new MicroVmState
        {
            ConfigJson = """{"machine-config":{"vcpu_count":1,"mem_size_mib":128}}""",
            Memory = [new MemoryRegionState(0, 128UL << 20, 0)],
            Vm = new VmKvmState
            {
                PicMaster = new KvmIrqchip { ChipId = KvmIrqchip.PicMaster },
                PicSlave = new KvmIrqchip { ChipId = KvmIrqchip.PicSlave },
                Ioapic = ioapic,
                Pit = new KvmPitState2 { Flags = 1 },
                Clock = clock,
            },
            Vcpus =
            [
                new VcpuKvmState
                {
                    MpState = new KvmMpState { MpState = 0 },
                    Regs = regs,
                    Sregs = default,
                    Xsave = xsave,
                    Xcrs = new KvmXcrs { NrXcrs = 1 },
                    DebugRegs = new KvmDebugRegs { Dr7 = 0x400 },
                    Lapic = default,
                    TscKhz = 2_400_000,
                    Msrs = [(0x10u, 99UL), (0x6e0u, 100UL)],
                    Events = new KvmVcpuEvents { NmiMasked = 1 },
                },
            ],
            Serial = new Serial8250State { Scratch = 0x42, BaudDivisor = 1, TransmitHold = "half a li"u8.ToArray() },
            I8042 = new I8042State(0),
            Virtio =
            [
                new VirtioDeviceState("block", "rootfs", 0xd000_0000, 5, new MmioTransportState
                {
                    DeviceType = VirtioSpec.VIRTIO_ID_BLOCK,
                    Status = 15,
                    DriverFeatures = 1UL << 32,
                    Activated = true,
                    Queues = [new QueueState { MaxSize = 256, Size = 256, Ready = true, DescTable = 0x1000, AvailRing = 0x2000, UsedRing = 0x3000, NextAvail = 9, NextUsed = 8 }],
                }),
            ],
        };
    }

    public static byte[] SampleFile() => SnapshotFile.Encode(Origin, MicroVmStateCodec.Encode(Sample()));
}
