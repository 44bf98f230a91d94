using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_lapic_state</c>: the local APIC's 1 KiB register page (KVM_GET_LAPIC / KVM_SET_LAPIC).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmLapicState
{
    /// <summary>KVM_APIC_REG_SIZE.</summary>
    public const int RegisterBytes = 0x400;

    /// <summary>APIC_LVT0 register offset.</summary>
    public const int ApicLvt0 = 0x350;
    /// <summary>APIC_LVT1 register offset.</summary>
    public const int ApicLvt1 = 0x360;

    /// <summary>APIC_MODE_EXTINT delivery mode.</summary>
    public const uint ApicModeExtInt = 0x7;
    /// <summary>APIC_MODE_NMI delivery mode.</summary>
    public const uint ApicModeNmi = 0x4;

    public fixed byte Regs[RegisterBytes];

    /// <summary>Reads the 32-bit register at <paramref name="offset"/>.</summary>
    public uint GetRegister(int offset)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)offset, (uint)RegisterBytes - 4);
        // SAFETY: Regs is RegisterBytes long and offset + 4 <= RegisterBytes was checked above; the span covers 4 bytes of it.
        fixed (byte* p = Regs)
        {
            return BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(p + offset, 4));
        }
    }

    public void SetRegister(int offset, uint value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)offset, (uint)RegisterBytes - 4);
        // SAFETY: Regs is RegisterBytes long and offset + 4 <= RegisterBytes was checked above; the span covers 4 bytes of it.
        fixed (byte* p = Regs)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(p + offset, 4), value);
        }
    }

    /// <summary>Sets the delivery mode bits (10:8) of an LVT register, as Firecracker's set_apic_delivery_mode.</summary>
    public static uint WithDeliveryMode(uint register, uint mode) => (register & ~0x700u) | (mode << 8);
}
