using System.Runtime.InteropServices;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Kvm;

/// <summary>A KVM virtual machine: memory slots, the in-kernel interrupt controllers and PIT, irqfd/ioeventfd, vCPUs.</summary>
public sealed class VmFd : KvmFd
{
    private readonly int _vcpuMmapSize;

    internal VmFd(int fd, int vcpuMmapSize) : base(fd) => _vcpuMmapSize = vcpuMmapSize;

    /// <summary>KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and per-vCPU local APICs (before any vCPU).</summary>
    public void CreateIrqChip() => Ioctl(KvmIoctlCodes.KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");

    /// <summary>KVM_CREATE_PIT2 with the dummy PC speaker port, as Firecracker does.</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void CreatePit2()
    {
        KvmPitConfig config = default;
        config.Flags = KvmPitConfig.SpeakerDummy;
        Ioctl(KvmIoctlCodes.KVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2");
    }

    /// <summary>KVM_SET_TSS_ADDR: three pages of guest-physical space the Intel VMX code needs below 4 GiB.</summary>
    public void SetTssAddress(ulong address) =>
        Ioctl(KvmIoctlCodes.KVM_SET_TSS_ADDR, (nuint)address, $"KVM_SET_TSS_ADDR(0x{address:x})");

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: one page for the real-mode identity map of Intel VMX.</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void SetIdentityMapAddress(ulong address) =>
        Ioctl(KvmIoctlCodes.KVM_SET_IDENTITY_MAP_ADDR, &address, $"KVM_SET_IDENTITY_MAP_ADDR(0x{address:x})");

    /// <summary>KVM_SET_USER_MEMORY_REGION: backs [guestAddress, +size) with host memory at <paramref name="hostAddress"/>.</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void SetUserMemoryRegion(uint slot, ulong guestAddress, ulong size, nint hostAddress, uint flags = 0)
    {
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = slot,
            Flags = flags,
            GuestPhysAddr = guestAddress,
            MemorySize = size,
            UserspaceAddr = (ulong)hostAddress,
        };
        Ioctl(KvmIoctlCodes.KVM_SET_USER_MEMORY_REGION, &region,
            $"KVM_SET_USER_MEMORY_REGION(slot {slot}, guest 0x{guestAddress:x}, size 0x{size:x})");
    }

    /// <summary>KVM_IRQFD: a write to <paramref name="eventFd"/> raises (and lowers) GSI <paramref name="gsi"/>.</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void RegisterIrqFd(SafeHandle eventFd, uint gsi)
    {
        bool added = false;
        try
        {
            eventFd.DangerousAddRef(ref added);
            var irqfd = new KvmIrqfd { Fd = (uint)eventFd.DangerousGetHandle(), Gsi = gsi };
            Ioctl(KvmIoctlCodes.KVM_IRQFD, &irqfd, $"KVM_IRQFD(gsi {gsi})");
        }
        finally
        {
            if (added)
            {
                eventFd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// KVM_IOEVENTFD: a guest write to [address, +length) (port I/O when <paramref name="isPio"/>) signals
    /// <paramref name="eventFd"/> without exiting to the VMM; with <paramref name="datamatch"/> only that value does.
    /// </summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void RegisterIoEventFd(SafeHandle eventFd, ulong address, uint length, ulong? datamatch, bool isPio)
    {
        bool added = false;
        try
        {
            eventFd.DangerousAddRef(ref added);
            var ioeventfd = new KvmIoeventfd
            {
                Addr = address,
                Len = length,
                Fd = (int)eventFd.DangerousGetHandle(),
                Datamatch = datamatch ?? 0,
                Flags = (datamatch is null ? 0 : KvmIoeventfd.FlagDatamatch) | (isPio ? KvmIoeventfd.FlagPio : 0),
            };
            Ioctl(KvmIoctlCodes.KVM_IOEVENTFD, &ioeventfd, $"KVM_IOEVENTFD(0x{address:x}, len {length})");
        }
        finally
        {
            if (added)
            {
                eventFd.DangerousRelease();
            }
        }
    }

    /// <summary>KVM_IRQ_LINE: sets the level of GSI <paramref name="irq"/> on the in-kernel PIC/IOAPIC.</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void SetIrqLine(uint irq, bool level)
    {
        var irqLevel = new KvmIrqLevel { Irq = irq, Level = level ? 1u : 0u };
        Ioctl(KvmIoctlCodes.KVM_IRQ_LINE, &irqLevel, $"KVM_IRQ_LINE({irq}, {(level ? 1 : 0)})");
    }

    /// <summary>KVM_ENABLE_CAP on the VM with the first argument set.</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void EnableCapability(KvmCapability capability, ulong argument0)
    {
        KvmEnableCap cap = default;
        cap.Cap = (uint)capability;
        cap.Args[0] = argument0;
        Ioctl(KvmIoctlCodes.KVM_ENABLE_CAP, &cap, $"KVM_ENABLE_CAP({capability})");
    }

    /// <summary>KVM_CREATE_VCPU with APIC ID <paramref name="id"/>, and its kvm_run page mapped.</summary>
    public VcpuFd CreateVcpu(int id)
    {
        int fd = Ioctl(KvmIoctlCodes.KVM_CREATE_VCPU, (nuint)id, $"KVM_CREATE_VCPU({id})");
        return VcpuFd.Create(fd, id, _vcpuMmapSize);
    }

    /// <summary>KVM_GET_IRQCHIP: the state of one in-kernel chip (<see cref="KvmIrqchip.PicMaster"/>, PicSlave or Ioapic).</summary>
    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe KvmIrqchip GetIrqchip(uint chipId)
    {
        KvmIrqchip chip = default;
        chip.ChipId = chipId;
        Ioctl(KvmIoctlCodes.KVM_GET_IRQCHIP, &chip, $"KVM_GET_IRQCHIP(chip {chipId})");
        return chip;
    }

    // SAFETY: passes the address of a copy of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void SetIrqchip(KvmIrqchip chip) => Ioctl(KvmIoctlCodes.KVM_SET_IRQCHIP, &chip, $"KVM_SET_IRQCHIP(chip {chip.ChipId})");

    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe KvmPitState2 GetPit2()
    {
        KvmPitState2 pit;
        Ioctl(KvmIoctlCodes.KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
        return pit;
    }

    // SAFETY: passes the address of a copy of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void SetPit2(KvmPitState2 pit) => Ioctl(KvmIoctlCodes.KVM_SET_PIT2, &pit, "KVM_SET_PIT2");

    // SAFETY: passes the address of a stack local of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe KvmClockData GetClock()
    {
        KvmClockData clock;
        Ioctl(KvmIoctlCodes.KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK");
        return clock;
    }

    // SAFETY: passes the address of a copy of the ioctl's struct, alive for the call (see KvmFd.Ioctl).
    public unsafe void SetClock(KvmClockData clock) => Ioctl(KvmIoctlCodes.KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
}
