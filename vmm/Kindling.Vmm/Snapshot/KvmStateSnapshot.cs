using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Snapshot;

/// <summary>
/// Saves and restores the in-kernel state of a paused VM and its vCPUs, in the order KVM needs (as Firecracker's
/// vstate does). Save, per vCPU: MP state first (KVM_GET_MP_STATE may deliver pending INIT/SIPI and change the
/// LAPIC), then registers, XSAVE, XCRs, debug registers, LAPIC, TSC frequency, MSRs (after the LAPIC: the TSC
/// deadline MSR reads the LAPIC timer), and the pending events last. Restore, after CPUID has been set: the same
/// order, with MSRs before the events. VM: PIT, kvmclock, then the PICs and the IOAPIC.
/// </summary>
public static class KvmStateSnapshot
{
    /// <summary>IA32_TSC: restored before the TSC deadline, which is relative to it.</summary>
    public const uint MsrIa32Tsc = 0x10;

    /// <summary>IA32_MCG_CTL: listed by KVM on some hosts, but not readable from a guest state.</summary>
    public const uint MsrIa32McgCtl = 0x17b;

    /// <summary>IA32_TSC_DEADLINE.</summary>
    public const uint MsrIa32TscDeadline = 0x6e0;

    /// <summary>The x2APIC MSR range (0x800..0xbff): the LAPIC state carries it.</summary>
    public const uint X2ApicFirst = 0x800, X2ApicLast = 0xbff;

    public static VmKvmState SaveVm(VmFd vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        KvmClockData clock = vm.GetClock();
        clock.Flags &= ~KvmClockData.TscStable; // KVM_SET_CLOCK refuses this GET-only flag
        return new VmKvmState
        {
            PicMaster = vm.GetIrqchip(KvmIrqchip.PicMaster),
            PicSlave = vm.GetIrqchip(KvmIrqchip.PicSlave),
            Ioapic = vm.GetIrqchip(KvmIrqchip.Ioapic),
            Pit = vm.GetPit2(),
            Clock = clock,
        };
    }

    /// <summary>Restores the VM-wide state on a VM created with its irqchip and PIT (before its vCPUs run).</summary>
    public static void RestoreVm(VmFd vm, VmKvmState state)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(state);
        vm.SetPit2(state.Pit);
        KvmClockData clock = state.Clock;
        clock.Flags = 0;
        vm.SetClock(clock);
        vm.SetIrqchip(CheckedChip(state.PicMaster, KvmIrqchip.PicMaster));
        vm.SetIrqchip(CheckedChip(state.PicSlave, KvmIrqchip.PicSlave));
        vm.SetIrqchip(CheckedChip(state.Ioapic, KvmIrqchip.Ioapic));
    }

    /// <summary>
    /// The MSRs to save from what KVM_GET_MSR_INDEX_LIST offers: without IA32_MCG_CTL and the x2APIC range, each once,
    /// with the TSC deadline after the TSC (KVM_SET_MSRS applies them in order).
    /// </summary>
    public static uint[] MsrsToSave(IEnumerable<uint> supported)
    {
        ArgumentNullException.ThrowIfNull(supported);
        List<uint> msrs = [.. supported.Where(i => i != MsrIa32McgCtl && i is < X2ApicFirst or > X2ApicLast).Distinct()];
        if (msrs.Remove(MsrIa32TscDeadline))
        {
            msrs.Add(MsrIa32TscDeadline);
        }

        return [.. msrs];
    }

    /// <summary>Saves one paused vCPU (its thread is out of KVM_RUN).</summary>
    public static VcpuKvmState SaveVcpu(VcpuFd vcpu, IReadOnlyList<uint> msrIndices)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(msrIndices);
        KvmMpState mp = vcpu.GetMpState();
        KvmRegs regs = vcpu.GetRegs();
        KvmSregs sregs = vcpu.GetSregs();
        KvmXsave xsave = vcpu.GetXsave();
        KvmXcrs xcrs = vcpu.GetXcrs();
        KvmDebugRegs debug = vcpu.GetDebugRegs();
        KvmLapicState lapic = vcpu.GetLapic();
        uint tscKhz = vcpu.GetTscKhz();
        (uint Index, ulong Value)[] msrs = ReadableMsrs(msrIndices, vcpu.GetMsrs);

        return new VcpuKvmState
        {
            MpState = mp, Regs = regs, Sregs = sregs, Xsave = xsave, Xcrs = xcrs, DebugRegs = debug, Lapic = lapic,
            TscKhz = tscKhz, Msrs = msrs, Events = vcpu.GetVcpuEvents(),
        };
    }

    /// <summary>
    /// Restores one vCPU whose CPUID is already set (from the same CPU template). A TSC frequency that differs from
    /// this host's is set with KVM_SET_TSC_KHZ; a host that cannot scale the TSC refuses the restore.
    /// </summary>
    public static void RestoreVcpu(VcpuFd vcpu, VcpuKvmState state)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(state);
        if (state.TscKhz != 0 && vcpu.GetTscKhz() != state.TscKhz)
        {
            try
            {
                vcpu.SetTscKhz(state.TscKhz);
            }
            catch (KvmException e)
            {
                throw new SnapshotException($"vCPU {vcpu.Id}: the snapshot's TSC runs at {state.TscKhz} kHz and this host cannot scale to it ({e.Message}); restore on a host of the same CPU model", e);
            }
        }

        vcpu.SetMpState(state.MpState);
        vcpu.SetRegs(state.Regs);
        vcpu.SetSregs(state.Sregs);
        vcpu.SetXsave(state.Xsave);
        vcpu.SetXcrs(state.Xcrs);
        vcpu.SetDebugRegs(state.DebugRegs);
        vcpu.SetLapic(state.Lapic);
        vcpu.SetMsrs(state.Msrs);
        vcpu.SetVcpuEvents(state.Events);
    }

    /// <summary>
    /// Reads <paramref name="indices"/> with <paramref name="read"/> (KVM_GET_MSRS, which stops at the first MSR it
    /// refuses) and skips each refused MSR: KVM lists MSRs some hosts (emulated KVM among them) cannot read for this
    /// vCPU. What is skipped is not restored either, so the state stays consistent (as QEMU saves only what it can read).
    /// </summary>
    public static (uint Index, ulong Value)[] ReadableMsrs(IReadOnlyList<uint> indices, Func<IReadOnlyList<uint>, (uint Index, ulong Value)[]> read)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(read);
        var result = new List<(uint, ulong)>(indices.Count);
        int next = 0;
        while (next < indices.Count)
        {
            uint[] rest = [.. indices.Skip(next)];
            (uint Index, ulong Value)[] got = read(rest);
            result.AddRange(got);
            next += got.Length + 1; // the MSR after the last one read was refused
        }

        return [.. result];
    }

    private static KvmIrqchip CheckedChip(KvmIrqchip chip, uint expected) =>
        chip.ChipId == expected ? chip : throw new SnapshotException($"irqchip state for chip {chip.ChipId} found where chip {expected} belongs; the state file is damaged");
}
