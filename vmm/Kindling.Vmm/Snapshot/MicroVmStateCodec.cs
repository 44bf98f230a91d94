using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Snapshot;

/// <summary>
/// The body of a state file (inside <see cref="SnapshotFile"/>'s envelope): tagged, length-prefixed sections, in a
/// fixed order. Decoding checks every length and count, so a damaged body is a <see cref="SnapshotException"/>
/// (the envelope's checksum normally catches damage first; this is the second line).
/// </summary>
public static class MicroVmStateCodec
{
    private const uint ConfigTag = 1, MemoryTag = 2, VmTag = 3, VcpuTag = 4, SerialTag = 5, I8042Tag = 6, VirtioTag = 7;
    private const int MaxQueues = 64;

    public static byte[] Encode(MicroVmState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var w = new StateWriter();
        w.Section(ConfigTag, s => s.String(state.ConfigJson));
        w.Section(MemoryTag, s =>
        {
            s.U32((uint)state.Memory.Count);
            foreach (MemoryRegionState r in state.Memory)
            {
                s.U64(r.GuestAddress);
                s.U64(r.Size);
                s.U64(r.FileOffset);
            }
        });
        w.Section(VmTag, s =>
        {
            s.Struct(state.Vm.PicMaster);
            s.Struct(state.Vm.PicSlave);
            s.Struct(state.Vm.Ioapic);
            s.Struct(state.Vm.Pit);
            s.Struct(state.Vm.Clock);
        });
        foreach (VcpuKvmState vcpu in state.Vcpus)
        {
            w.Section(VcpuTag, s => WriteVcpu(s, vcpu));
        }

        w.Section(SerialTag, s => WriteSerial(s, state.Serial));
        w.Section(I8042Tag, s => s.I64(state.I8042.ResetCount));
        foreach (VirtioDeviceState device in state.Virtio)
        {
            w.Section(VirtioTag, s => WriteVirtio(s, device));
        }

        return w.ToArray();
    }

    public static MicroVmState Decode(ReadOnlyMemory<byte> body, string path)
    {
        var r = new StateReader(body, $"snapshot state file {path}");
        string? config = null;
        IReadOnlyList<MemoryRegionState>? memory = null;
        VmKvmState? vm = null;
        Serial8250State? serial = null;
        I8042State? i8042 = null;
        var vcpus = new List<VcpuKvmState>();
        var virtio = new List<VirtioDeviceState>();
        while (!r.AtEnd)
        {
            (uint tag, StateReader s) = r.Section();
            switch (tag)
            {
                case ConfigTag: config = s.String(); break;
                case MemoryTag: memory = ReadMemory(s); break;
                case VmTag: vm = ReadVm(s); break;
                case VcpuTag: vcpus.Add(ReadVcpu(s)); break;
                case SerialTag: serial = ReadSerial(s); break;
                case I8042Tag: i8042 = new I8042State(NonNegative(s, s.I64(), "i8042 reset count")); break;
                case VirtioTag: virtio.Add(ReadVirtio(s)); break;
                default: throw r.Bad($"unknown section {tag}");
            }

            s.End();
        }

        if (config is null || memory is null || vm is null || serial is null || i8042 is null || vcpus.Count == 0)
        {
            throw r.Bad("a required section (config, memory, VM, vCPU, serial or i8042) is missing");
        }

        return new MicroVmState { ConfigJson = config, Memory = memory, Vm = vm, Vcpus = vcpus, Serial = serial, I8042 = i8042, Virtio = virtio };
    }

    private static IReadOnlyList<MemoryRegionState> ReadMemory(StateReader s)
    {
        int count = s.Count(24);
        var regions = new MemoryRegionState[count];
        for (int i = 0; i < count; i++)
        {
            regions[i] = new MemoryRegionState(s.U64(), s.U64(), s.U64());
        }

        return regions;
    }

    private static VmKvmState ReadVm(StateReader s) => new()
    {
        PicMaster = s.Struct<KvmIrqchip>("the PIC master state"),
        PicSlave = s.Struct<KvmIrqchip>("the PIC slave state"),
        Ioapic = s.Struct<KvmIrqchip>("the IOAPIC state"),
        Pit = s.Struct<KvmPitState2>("the PIT state"),
        Clock = s.Struct<KvmClockData>("the kvmclock state"),
    };

    private static void WriteVcpu(StateWriter s, VcpuKvmState v)
    {
        s.Struct(v.MpState);
        s.Struct(v.Regs);
        s.Struct(v.Sregs);
        s.Struct(v.Xsave);
        s.Struct(v.Xcrs);
        s.Struct(v.DebugRegs);
        s.Struct(v.Lapic);
        s.U32(v.TscKhz);
        s.U32((uint)v.Msrs.Count);
        foreach ((uint index, ulong value) in v.Msrs)
        {
            s.U32(index);
            s.U64(value);
        }

        s.Struct(v.Events);
    }

    private static VcpuKvmState ReadVcpu(StateReader s)
    {
        KvmMpState mp = s.Struct<KvmMpState>("kvm_mp_state");
        KvmRegs regs = s.Struct<KvmRegs>("kvm_regs");
        KvmSregs sregs = s.Struct<KvmSregs>("kvm_sregs");
        KvmXsave xsave = s.Struct<KvmXsave>("kvm_xsave");
        KvmXcrs xcrs = s.Struct<KvmXcrs>("kvm_xcrs");
        KvmDebugRegs debug = s.Struct<KvmDebugRegs>("kvm_debugregs");
        KvmLapicState lapic = s.Struct<KvmLapicState>("kvm_lapic_state");
        uint tscKhz = s.U32();
        int count = s.Count(12);
        var msrs = new (uint, ulong)[count];
        for (int i = 0; i < count; i++)
        {
            msrs[i] = (s.U32(), s.U64());
        }

        return new VcpuKvmState
        {
            MpState = mp, Regs = regs, Sregs = sregs, Xsave = xsave, Xcrs = xcrs, DebugRegs = debug, Lapic = lapic,
            TscKhz = tscKhz, Msrs = msrs, Events = s.Struct<KvmVcpuEvents>("kvm_vcpu_events"),
        };
    }

    private static void WriteSerial(StateWriter s, Serial8250State st)
    {
        s.U8(st.InterruptEnable);
        s.U8(st.LineControl);
        s.U8(st.ModemControl);
        s.U8(st.LineStatus);
        s.U8(st.ModemStatus);
        s.U8(st.Scratch);
        s.U8(st.FifoControl);
        s.U16(st.BaudDivisor);
        s.Bool(st.ThrEmptyInterruptPending);
        s.Bytes(st.ReceiveQueue);
        s.Bytes(st.TransmitHold);
    }

    private static Serial8250State ReadSerial(StateReader s) => new()
    {
        InterruptEnable = s.U8(),
        LineControl = s.U8(),
        ModemControl = s.U8(),
        LineStatus = s.U8(),
        ModemStatus = s.U8(),
        Scratch = s.U8(),
        FifoControl = s.U8(),
        BaudDivisor = s.U16(),
        ThrEmptyInterruptPending = s.Bool(),
        ReceiveQueue = s.Bytes(1 << 16).ToArray(),
        TransmitHold = s.Bytes(Serial8250.TxHoldCapacity).ToArray(),
    };

    private static void WriteVirtio(StateWriter s, VirtioDeviceState d)
    {
        s.String(d.Kind);
        s.String(d.Id);
        s.U64(d.MmioBase);
        s.U32(d.Gsi);
        MmioTransportState t = d.Transport;
        s.U32(t.DeviceType);
        s.U32(t.Status);
        s.U32(t.DeviceFeaturesSel);
        s.U32(t.DriverFeaturesSel);
        s.U64(t.DriverFeatures);
        s.U32(t.QueueSel);
        s.U32(t.ConfigGeneration);
        s.Bool(t.Activated);
        s.U32(t.InterruptStatus);
        s.U32((uint)t.Queues.Count);
        foreach (QueueState q in t.Queues)
        {
            s.U16(q.MaxSize);
            s.U16(q.Size);
            s.Bool(q.Ready);
            s.U64(q.DescTable);
            s.U64(q.AvailRing);
            s.U64(q.UsedRing);
            s.Bool(q.EventIdx);
            s.Bool(q.IndirectDesc);
            s.U16(q.NextAvail);
            s.U16(q.NextUsed);
            s.U16(q.SignalledUsed);
            s.Bool(q.SignalledValid);
        }
    }

    private static VirtioDeviceState ReadVirtio(StateReader s)
    {
        string kind = s.String(16);
        string id = s.String(64);
        ulong mmioBase = s.U64();
        uint gsi = s.U32();
        var t = new MmioTransportState
        {
            DeviceType = s.U32(),
            Status = s.U32(),
            DeviceFeaturesSel = s.U32(),
            DriverFeaturesSel = s.U32(),
            DriverFeatures = s.U64(),
            QueueSel = s.U32(),
            ConfigGeneration = s.U32(),
            Activated = s.Bool(),
            InterruptStatus = s.U32(),
        };
        int count = s.Count(37);
        if (count > MaxQueues)
        {
            throw s.Bad($"virtio device {kind} {id} has {count} queues, more than {MaxQueues}");
        }

        var queues = new QueueState[count];
        for (int i = 0; i < count; i++)
        {
            queues[i] = new QueueState
            {
                MaxSize = s.U16(),
                Size = s.U16(),
                Ready = s.Bool(),
                DescTable = s.U64(),
                AvailRing = s.U64(),
                UsedRing = s.U64(),
                EventIdx = s.Bool(),
                IndirectDesc = s.Bool(),
                NextAvail = s.U16(),
                NextUsed = s.U16(),
                SignalledUsed = s.U16(),
                SignalledValid = s.Bool(),
            };
        }

        return new VirtioDeviceState(kind, id, mmioBase, gsi, t with { Queues = queues });
    }

    private static long NonNegative(StateReader s, long value, string what) =>
        value >= 0 ? value : throw s.Bad($"{what} is negative ({value})");
}
