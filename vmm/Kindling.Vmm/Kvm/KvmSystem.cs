using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Kvm;

/// <summary>The open <c>/dev/kvm</c>: API version, capabilities, supported CPUID, and VM creation.</summary>
public sealed class KvmSystem : KvmFd
{
    public const string DevicePath = "/dev/kvm";

    /// <summary>KVM_API_VERSION: the only stable KVM API there has ever been.</summary>
    public const int ExpectedApiVersion = 12;

    /// <summary>What the VMM cannot run without, each with the kernel's name for the message.</summary>
    public static readonly IReadOnlyList<(KvmCapability Capability, string Name)> RequiredCapabilities =
    [
        (KvmCapability.Irqchip, "KVM_CAP_IRQCHIP"),
        (KvmCapability.Pit2, "KVM_CAP_PIT2"),
        (KvmCapability.Ioeventfd, "KVM_CAP_IOEVENTFD"),
        (KvmCapability.Irqfd, "KVM_CAP_IRQFD"),
        (KvmCapability.UserMemory, "KVM_CAP_USER_MEMORY"),
        (KvmCapability.SetTssAddr, "KVM_CAP_SET_TSS_ADDR"),
        (KvmCapability.ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
    ];

    /// <summary>Upper bound on KVM_GET_SUPPORTED_CPUID entries (KVM_MAX_CPUID_ENTRIES).</summary>
    private const int MaxCpuidEntries = 256;

    private KvmSystem(int fd) : base(fd)
    {
    }

    /// <summary>Opens <paramref name="path"/>; the exception says what to do when it is missing or not permitted.</summary>
    public static KvmSystem Open(string path = DevicePath)
    {
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            return new KvmSystem(fd);
        }

        int errno = Marshal.GetLastPInvokeError();
        throw new KvmException(DescribeOpenFailure(path, errno), errno);
    }

    /// <summary>The user-facing reason for a failed open of the KVM device (no errno suffix needed: it says it).</summary>
    public static string DescribeOpenFailure(string path, int errno) => errno switch
    {
        Libc.ENOENT or Libc.ENODEV or Libc.ENXIO =>
            $"{path} not found: load kvm_intel or kvm_amd (modprobe kvm_intel), and enable virtualization (VT-x/AMD-V or nested virtualization)",
        Libc.EACCES or Libc.EPERM =>
            $"permission denied opening {path}: add the user to group kvm (usermod -aG kvm $USER) or run as root",
        _ => $"cannot open {path}",
    };

    public int GetApiVersion() => Ioctl(KvmIoctlCodes.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");

    /// <summary>KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value.</summary>
    public int CheckExtension(KvmCapability capability) =>
        Ioctl(KvmIoctlCodes.KVM_CHECK_EXTENSION, (nuint)capability, $"KVM_CHECK_EXTENSION({capability})");

    /// <summary>Throws a <see cref="KvmException"/> naming the first missing requirement (API version, capabilities).</summary>
    public void CheckRequirements()
    {
        int version = GetApiVersion();
        if (version != ExpectedApiVersion)
        {
            throw new KvmException($"KVM API version is {version}, expected {ExpectedApiVersion}: this kernel's KVM is not supported");
        }

        foreach ((KvmCapability capability, string name) in RequiredCapabilities)
        {
            if (CheckExtension(capability) <= 0)
            {
                throw new KvmException($"KVM lacks {name}: the host kernel's KVM is too old or restricted; use a Linux 5.x+ host");
            }
        }
    }

    /// <summary>KVM_GET_VCPU_MMAP_SIZE: the size of the kvm_run mapping of each vCPU fd.</summary>
    public int GetVcpuMmapSize() => Ioctl(KvmIoctlCodes.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");

    /// <summary>KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can expose to a guest on this host.</summary>
    // SAFETY: the buffer is allocated here, freed in finally, and sized for the header and MaxCpuidEntries entries.
    public unsafe KvmCpuidEntry2[] GetSupportedCpuid()
    {
        int bytes = sizeof(KvmCpuid2) + (MaxCpuidEntries * sizeof(KvmCpuidEntry2));
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // SAFETY: buffer holds the kvm_cpuid2 header followed by MaxCpuidEntries entries, as nent says.
            var header = (KvmCpuid2*)buffer;
            header->Nent = MaxCpuidEntries;
            Ioctl(KvmIoctlCodes.KVM_GET_SUPPORTED_CPUID, buffer, "KVM_GET_SUPPORTED_CPUID");
            var entries = new ReadOnlySpan<KvmCpuidEntry2>(buffer + sizeof(KvmCpuid2), (int)Math.Min(header->Nent, MaxCpuidEntries));
            return entries.ToArray();
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>KVM_GET_MSR_INDEX_LIST: the MSRs KVM can save and restore for a vCPU.</summary>
    public unsafe uint[] GetMsrIndexList()
    {
        const int MaxMsrs = 1024;
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)(sizeof(KvmMsrList) + (MaxMsrs * sizeof(uint))));
        try
        {
            // SAFETY: buffer holds the header and MaxMsrs indices, as nmsrs says; the kernel writes at most that many.
            var header = (KvmMsrList*)buffer;
            header->Nmsrs = MaxMsrs;
            Ioctl(KvmIoctlCodes.KVM_GET_MSR_INDEX_LIST, buffer, "KVM_GET_MSR_INDEX_LIST");
            return new ReadOnlySpan<uint>(buffer + sizeof(KvmMsrList), (int)Math.Min(header->Nmsrs, MaxMsrs)).ToArray();
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>KVM_CREATE_VM (machine type 0: the default x86 VM).</summary>
    public VmFd CreateVm()
    {
        int mmapSize = GetVcpuMmapSize();
        int fd = Ioctl(KvmIoctlCodes.KVM_CREATE_VM, 0, "KVM_CREATE_VM");
        return new VmFd(fd, mmapSize);
    }
}
