using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

// The structures of the KVM ioctls that save and restore a VM (snapshots). Layouts are the kernel's
// (arch/x86/include/uapi/asm/kvm.h, include/uapi/linux/kvm.h); sizes and offsets are checked in the ABI tests.

/// <summary><c>struct kvm_xsave</c> (KVM_GET_XSAVE / KVM_SET_XSAVE): the legacy 4 KiB XSAVE area.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size array of the kernel's layout; size checked in the ABI tests.
public unsafe struct KvmXsave
{
    public const int RegionWords = 1024;

    public fixed uint Region[RegionWords];
}

/// <summary><c>struct kvm_xcr</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmXcr
{
    public uint Xcr;
    private readonly uint _reserved;
    public ulong Value;
}

/// <summary><c>struct kvm_xcrs</c> (KVM_GET_XCRS / KVM_SET_XCRS): up to KVM_MAX_XCRS (16) entries.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; size checked in the ABI tests.
public unsafe struct KvmXcrs
{
    public const int MaxXcrs = 16;

    public uint NrXcrs;
    public uint Flags;
    public fixed byte Xcrs[MaxXcrs * 16];
    private fixed ulong _padding[16];
}

/// <summary><c>struct kvm_debugregs</c> (KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; size checked in the ABI tests.
public unsafe struct KvmDebugRegs
{
    public fixed ulong Db[4];
    public ulong Dr6;
    public ulong Dr7;
    public ulong Flags;
    private fixed ulong _reserved[9];
}

/// <summary>
/// <c>struct kvm_irqchip</c> (KVM_GET_IRQCHIP / KVM_SET_IRQCHIP): one of the in-kernel PICs or the IOAPIC, chosen by
/// <see cref="ChipId"/>; the chip's state (kvm_pic_state or kvm_ioapic_state) is kept as the opaque 512-byte union.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size union bytes of the kernel's layout; size checked in the ABI tests.
public unsafe struct KvmIrqchip
{
    public const uint PicMaster = 0;
    public const uint PicSlave = 1;
    public const uint Ioapic = 2;
    public const int ChipBytes = 512;

    public uint ChipId;
    private readonly uint _pad;
    public fixed byte Chip[ChipBytes];
}

/// <summary><c>struct kvm_pit_channel_state</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmPitChannelState
{
    public uint Count;
    public ushort LatchedCount;
    public byte CountLatched;
    public byte StatusLatched;
    public byte Status;
    public byte ReadState;
    public byte WriteState;
    public byte WriteLatch;
    public byte RwMode;
    public byte Mode;
    public byte Bcd;
    public byte Gate;
    public long CountLoadTime;
}

/// <summary><c>struct kvm_pit_state2</c> (KVM_GET_PIT2 / KVM_SET_PIT2): three channels, flags, reserved words.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; size checked in the ABI tests.
public unsafe struct KvmPitState2
{
    public KvmPitChannelState Channel0;
    public KvmPitChannelState Channel1;
    public KvmPitChannelState Channel2;
    public uint Flags;
    private fixed uint _reserved[9];
}

/// <summary><c>struct kvm_clock_data</c> (KVM_GET_CLOCK / KVM_SET_CLOCK): the VM's kvmclock.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size array of the kernel's layout; size checked in the ABI tests.
public unsafe struct KvmClockData
{
    /// <summary>KVM_CLOCK_TSC_STABLE: reported by GET, meaningless to SET.</summary>
    public const uint TscStable = 2;

    public ulong Clock;
    public uint Flags;
    private readonly uint _pad0;
    public ulong Realtime;
    public ulong HostTsc;
    private fixed uint _pad[4];
}

/// <summary>The fixed header of <c>struct kvm_msr_list</c> (KVM_GET_MSR_INDEX_LIST); <c>nmsrs</c> u32 indices follow.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrList
{
    public uint Nmsrs;
}
