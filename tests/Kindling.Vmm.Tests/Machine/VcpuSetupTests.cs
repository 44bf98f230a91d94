using Kindling.Vmm.Boot;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Machine;

public sealed class VcpuSetupTests
{
    private static readonly SegmentState Code = new(0, 0xfffff, 0x8, 0xb, true, 0, false, true, true, true);
    private static readonly SegmentState Data = new(0, 0xfffff, 0x10, 0x3, true, 0, true, true, false, true);
    private static readonly SegmentState Tss = new(0, 0xfffff, 0x18, 0xb, true, 0, false, false, false, true);
    private static readonly LongModeState LongMode = new(
        Cr0: 0x8000_0011, Cr3: 0x9000, Cr4: 0x20, Efer: 0x500, Code, Data, Tss, GdtBase: 0x500, GdtLimit: 0x1f, IdtBase: 0x520, IdtLimit: 7);

    [Fact]
    public void BuildRegs_KernelEntry_SetsRipRsiStackAndReservedFlag()
    {
        KvmRegs regs = VcpuSetup.BuildRegs(new GuestAddress(0x100_0000), new GuestAddress(0x7000));

        Assert.Equal(0x100_0000UL, regs.Rip);
        Assert.Equal(0x7000UL, regs.Rsi);
        Assert.Equal(BootLayout.BootStackPointer, regs.Rsp);
        Assert.Equal(BootLayout.BootStackPointer, regs.Rbp);
        Assert.Equal(0x2UL, regs.Rflags);
        Assert.Equal(0UL, regs.Rax);
    }

    [Fact]
    public void BuildFpu_SetsFcwAndMxcsrDefaults()
    {
        KvmFpu fpu = VcpuSetup.BuildFpu();

        Assert.Equal(0x37f, fpu.Fcw);
        Assert.Equal(0x1f80u, fpu.Mxcsr);
    }

    [Fact]
    public void ApplyLongMode_CopiesControlRegistersTablesAndSegments()
    {
        KvmSregs sregs = default;
        sregs.ApicBase = 0xfee0_0900; // untouched fields survive

        KvmSregs result = VcpuSetup.ApplyLongMode(sregs, LongMode);

        Assert.Equal(0x8000_0011UL, result.Cr0);
        Assert.Equal(0x9000UL, result.Cr3);
        Assert.Equal(0x20UL, result.Cr4);
        Assert.Equal(0x500UL, result.Efer);
        Assert.Equal(0x500UL, result.Gdt.Base);
        Assert.Equal(0x1f, result.Gdt.Limit);
        Assert.Equal(0x520UL, result.Idt.Base);
        Assert.Equal(7, result.Idt.Limit);
        Assert.Equal(0x8, result.Cs.Selector);
        Assert.Equal(1, result.Cs.L);
        Assert.Equal(0, result.Cs.Db);
        foreach (KvmSegment s in new[] { result.Ds, result.Es, result.Fs, result.Gs, result.Ss })
        {
            Assert.Equal(0x10, s.Selector);
            Assert.Equal(1, s.Db);
            Assert.Equal(0, s.L);
        }

        Assert.Equal(0x18, result.Tr.Selector);
        Assert.Equal(0, result.Tr.S);
        Assert.Equal(0xfee0_0900UL, result.ApicBase);
    }

    [Fact]
    public void ToSegment_MapsEveryFlag()
    {
        KvmSegment s = VcpuSetup.ToSegment(new SegmentState(0x1000, 0xffff, 0x28, 0x9, true, 3, true, false, true, true));

        Assert.Equal(0x1000UL, s.Base);
        Assert.Equal(0xffffu, s.Limit);
        Assert.Equal(0x28, s.Selector);
        Assert.Equal(0x9, s.Type);
        Assert.Equal(1, s.Present);
        Assert.Equal(3, s.Dpl);
        Assert.Equal(1, s.Db);
        Assert.Equal(0, s.S);
        Assert.Equal(1, s.L);
        Assert.Equal(1, s.G);
    }

    [Fact]
    public void ConfigureLocalInterrupts_SetsLint0ExtIntAndLint1NmiKeepingOtherBits()
    {
        KvmLapicState lapic = default;
        lapic.SetRegister(KvmLapicState.ApicLvt0, 0x0001_0000); // masked, fixed mode
        lapic.SetRegister(KvmLapicState.ApicLvt1, 0x0001_0700);

        KvmLapicState result = VcpuSetup.ConfigureLocalInterrupts(lapic);

        Assert.Equal(0x0001_0700u, result.GetRegister(KvmLapicState.ApicLvt0));
        Assert.Equal(0x0001_0400u, result.GetRegister(KvmLapicState.ApicLvt1));
    }

    [Fact]
    public void Cpuid_RoundTripsBetweenBootAndKvmShapes()
    {
        var entry = new CpuidEntry(7, 0, 1, 0x11, 0x22, 0x33, 0x44);

        Assert.Equal(entry, VcpuSetup.FromKvm(VcpuSetup.ToKvm(entry)));
    }
}
