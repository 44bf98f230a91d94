using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_pit_config</c> (KVM_CREATE_PIT2).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmPitConfig
{
    /// <summary>KVM_PIT_SPEAKER_DUMMY: emulate port 0x61 so guests probing the PC speaker do not exit.</summary>
    public const uint SpeakerDummy = 1;

    public uint Flags;
    private fixed uint _pad[15];
}
