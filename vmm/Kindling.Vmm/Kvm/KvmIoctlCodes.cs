using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Kvm;

/// <summary>
/// The KVM ioctl request numbers, computed like the kernel's _IO/_IOR/_IOW/_IOWR macros from the argument
/// structure's size (the one encoder, <see cref="IoctlNumber"/>). Internal to the assembly: only the typed methods of the fd handles use them (and the ABI test
/// compares them with the values gcc computes from &lt;linux/kvm.h&gt;).
/// </summary>
internal static class KvmIoctlCodes
{
    /// <summary>KVMIO, the ioctl type byte of KVM.</summary>
    private const uint Kvmio = 0xAE;

    // System ioctls (/dev/kvm).
    internal static readonly nuint KVM_GET_API_VERSION = Io(0x00);
    internal static readonly nuint KVM_CREATE_VM = Io(0x01);
    internal static readonly nuint KVM_CHECK_EXTENSION = Io(0x03);
    internal static readonly nuint KVM_GET_VCPU_MMAP_SIZE = Io(0x04);
    internal static readonly nuint KVM_GET_SUPPORTED_CPUID = IoWR<KvmCpuid2>(0x05);
    internal static readonly nuint KVM_GET_MSR_INDEX_LIST = IoWR<KvmMsrList>(0x02);

    // VM ioctls.
    internal static readonly nuint KVM_CREATE_VCPU = Io(0x41);
    internal static readonly nuint KVM_SET_USER_MEMORY_REGION = IoW<KvmUserspaceMemoryRegion>(0x46);
    internal static readonly nuint KVM_SET_TSS_ADDR = Io(0x47);
    internal static readonly nuint KVM_SET_IDENTITY_MAP_ADDR = IoW<ulong>(0x48);
    internal static readonly nuint KVM_CREATE_IRQCHIP = Io(0x60);
    internal static readonly nuint KVM_IRQ_LINE = IoW<KvmIrqLevel>(0x61);
    internal static readonly nuint KVM_IRQFD = IoW<KvmIrqfd>(0x76);
    internal static readonly nuint KVM_CREATE_PIT2 = IoW<KvmPitConfig>(0x77);
    internal static readonly nuint KVM_IOEVENTFD = IoW<KvmIoeventfd>(0x79);
    internal static readonly nuint KVM_ENABLE_CAP = IoW<KvmEnableCap>(0xa3);
    internal static readonly nuint KVM_GET_IRQCHIP = IoWR<KvmIrqchip>(0x62);
    internal static readonly nuint KVM_SET_IRQCHIP = IoR<KvmIrqchip>(0x63); // _IOR in <linux/kvm.h>, for historical reasons
    internal static readonly nuint KVM_SET_CLOCK = IoW<KvmClockData>(0x7b);
    internal static readonly nuint KVM_GET_CLOCK = IoR<KvmClockData>(0x7c);
    internal static readonly nuint KVM_GET_PIT2 = IoR<KvmPitState2>(0x9f);
    internal static readonly nuint KVM_SET_PIT2 = IoW<KvmPitState2>(0xa0);

    // vCPU ioctls.
    internal static readonly nuint KVM_RUN = Io(0x80);
    internal static readonly nuint KVM_GET_REGS = IoR<KvmRegs>(0x81);
    internal static readonly nuint KVM_SET_REGS = IoW<KvmRegs>(0x82);
    internal static readonly nuint KVM_GET_SREGS = IoR<KvmSregs>(0x83);
    internal static readonly nuint KVM_SET_SREGS = IoW<KvmSregs>(0x84);
    internal static readonly nuint KVM_TRANSLATE = IoWR<KvmTranslation>(0x85);
    internal static readonly nuint KVM_SET_MSRS = IoW<KvmMsrs>(0x89);
    internal static readonly nuint KVM_GET_FPU = IoR<KvmFpu>(0x8c);
    internal static readonly nuint KVM_SET_FPU = IoW<KvmFpu>(0x8d);
    internal static readonly nuint KVM_GET_LAPIC = IoR<KvmLapicState>(0x8e);
    internal static readonly nuint KVM_SET_LAPIC = IoW<KvmLapicState>(0x8f);
    internal static readonly nuint KVM_SET_CPUID2 = IoW<KvmCpuid2>(0x90);
    internal static readonly nuint KVM_GET_MP_STATE = IoR<KvmMpState>(0x98);
    internal static readonly nuint KVM_SET_MP_STATE = IoW<KvmMpState>(0x99);
    internal static readonly nuint KVM_GET_VCPU_EVENTS = IoR<KvmVcpuEvents>(0x9f);
    internal static readonly nuint KVM_SET_VCPU_EVENTS = IoW<KvmVcpuEvents>(0xa0);
    internal static readonly nuint KVM_GET_MSRS = IoWR<KvmMsrs>(0x88);
    internal static readonly nuint KVM_GET_DEBUGREGS = IoR<KvmDebugRegs>(0xa1);
    internal static readonly nuint KVM_SET_DEBUGREGS = IoW<KvmDebugRegs>(0xa2);
    internal static readonly nuint KVM_SET_TSC_KHZ = Io(0xa2);
    internal static readonly nuint KVM_GET_TSC_KHZ = Io(0xa3);
    internal static readonly nuint KVM_GET_XSAVE = IoR<KvmXsave>(0xa4);
    internal static readonly nuint KVM_SET_XSAVE = IoW<KvmXsave>(0xa5);
    internal static readonly nuint KVM_GET_XCRS = IoR<KvmXcrs>(0xa6);
    internal static readonly nuint KVM_SET_XCRS = IoW<KvmXcrs>(0xa7);
    internal static readonly nuint KVM_KVMCLOCK_CTRL = Io(0xad);

    private static nuint Io(uint nr) => IoctlNumber.Io(Kvmio, nr);

    private static nuint IoR<T>(uint nr) where T : unmanaged => IoctlNumber.IoR<T>(Kvmio, nr);

    private static nuint IoW<T>(uint nr) where T : unmanaged => IoctlNumber.IoW<T>(Kvmio, nr);

    private static nuint IoWR<T>(uint nr) where T : unmanaged => IoctlNumber.IoWR<T>(Kvmio, nr);
}
