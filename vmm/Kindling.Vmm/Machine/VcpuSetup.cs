using Kindling.Vmm.Boot;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Machine;

/// <summary>
/// The boot-time register state of a vCPU entering a Linux kernel at its 64-bit entry (Firecracker's
/// arch::x86_64::regs and interrupts). The pure builders are separate from <see cref="Configure"/> so that they are
/// tested without KVM.
/// </summary>
public static class VcpuSetup
{
    /// <summary>RFLAGS bit 1 is reserved and always set; interrupts stay disabled until the kernel enables them.</summary>
    public const ulong InitialRflags = 0x2;

    /// <summary>x87 control word after FNINIT: all exceptions masked, 64-bit precision.</summary>
    public const ushort InitialFcw = 0x37f;

    /// <summary>MXCSR at reset: all SIMD exceptions masked.</summary>
    public const uint InitialMxcsr = 0x1f80;

    /// <summary>General registers: RIP at the kernel's 64-bit entry, RSI at boot_params, a stack below the zero page's neighbour.</summary>
    public static KvmRegs BuildRegs(GuestAddress entryPoint, GuestAddress bootParams) => new()
    {
        Rip = entryPoint.Value,
        Rsi = bootParams.Value,
        Rsp = BootLayout.BootStackPointer,
        Rbp = BootLayout.BootStackPointer,
        Rflags = InitialRflags,
    };

    public static KvmFpu BuildFpu()
    {
        KvmFpu fpu = default;
        fpu.Fcw = InitialFcw;
        fpu.Mxcsr = InitialMxcsr;
        return fpu;
    }

    /// <summary>Applies the long-mode state (segments, descriptor tables, control registers, EFER) to <paramref name="sregs"/>.</summary>
    public static KvmSregs ApplyLongMode(KvmSregs sregs, LongModeState state)
    {
        KvmSegment code = ToSegment(state.Code);
        KvmSegment data = ToSegment(state.Data);
        sregs.Cs = code;
        sregs.Ds = data;
        sregs.Es = data;
        sregs.Fs = data;
        sregs.Gs = data;
        sregs.Ss = data;
        sregs.Tr = ToSegment(state.Tss);
        sregs.Gdt.Base = state.GdtBase;
        sregs.Gdt.Limit = state.GdtLimit;
        sregs.Idt.Base = state.IdtBase;
        sregs.Idt.Limit = state.IdtLimit;
        sregs.Cr0 = state.Cr0;
        sregs.Cr3 = state.Cr3;
        sregs.Cr4 = state.Cr4;
        sregs.Efer = state.Efer;
        return sregs;
    }

    public static KvmSegment ToSegment(SegmentState s) => new()
    {
        Base = s.Base,
        Limit = s.Limit,
        Selector = s.Selector,
        Type = s.Type,
        Present = s.Present ? (byte)1 : (byte)0,
        Dpl = s.Dpl,
        Db = s.DefaultSize ? (byte)1 : (byte)0,
        S = s.Segment ? (byte)1 : (byte)0,
        L = s.Long ? (byte)1 : (byte)0,
        G = s.Granularity ? (byte)1 : (byte)0,
    };

    /// <summary>LINT0 in ExtINT mode (the PIC's output reaches the BSP) and LINT1 as NMI, as Firecracker's set_lint.</summary>
    public static KvmLapicState ConfigureLocalInterrupts(KvmLapicState lapic)
    {
        uint lvt0 = lapic.GetRegister(KvmLapicState.ApicLvt0);
        lapic.SetRegister(KvmLapicState.ApicLvt0, KvmLapicState.WithDeliveryMode(lvt0, KvmLapicState.ApicModeExtInt));
        uint lvt1 = lapic.GetRegister(KvmLapicState.ApicLvt1);
        lapic.SetRegister(KvmLapicState.ApicLvt1, KvmLapicState.WithDeliveryMode(lvt1, KvmLapicState.ApicModeNmi));
        return lapic;
    }

    public static CpuidEntry FromKvm(KvmCpuidEntry2 e) => new(e.Function, e.Index, e.Flags, e.Eax, e.Ebx, e.Ecx, e.Edx);

    public static KvmCpuidEntry2 ToKvm(CpuidEntry e) => new()
    {
        Function = e.Function,
        Index = e.Index,
        Flags = e.Flags,
        Eax = e.Eax,
        Ebx = e.Ebx,
        Ecx = e.Ecx,
        Edx = e.Edx,
    };

    /// <summary>Sets the vCPU's CPUID: the host's supported leaves through the CPU template (booted and restored vCPUs alike).</summary>
    public static void SetCpuid(VcpuFd vcpu, IReadOnlyList<CpuidEntry> supportedCpuid, CpuTemplate template, int vcpuCount)
    {
        CpuidEntry[] cpuid = CpuidTemplates.Apply(supportedCpuid, template, vcpu.Id, vcpuCount);
        vcpu.SetCpuid2([.. cpuid.Select(ToKvm)]);
    }

    /// <summary>Sets the boot MSRs, registers, FPU, long-mode segments and LAPIC for a direct 64-bit kernel entry (after <see cref="SetCpuid"/>).</summary>
    public static void ConfigureBoot(VcpuFd vcpu, LongModeState longMode, GuestAddress entryPoint, GuestAddress bootParams)
    {
        vcpu.SetMsrs(BootMsrs.Defaults);
        vcpu.SetRegs(BuildRegs(entryPoint, bootParams));
        vcpu.SetFpu(BuildFpu());
        vcpu.SetSregs(ApplyLongMode(vcpu.GetSregs(), longMode));
        vcpu.SetLapic(ConfigureLocalInterrupts(vcpu.GetLapic()));
    }
}
