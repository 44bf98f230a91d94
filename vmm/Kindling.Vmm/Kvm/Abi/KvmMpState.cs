using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_mp_state</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMpState
{
    public const uint Runnable = 0;
    public const uint Uninitialized = 1;
    public const uint InitReceived = 2;
    public const uint Halted = 3;

    public uint MpState;
}
