using System.Buffers.Binary;
using Kindling.Testing;
using Kindling.Vmm.Emulation;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Memory;
using Xunit;

namespace Kindling.Vmm.Tests.Emulation;

public sealed class InstructionFallbackTests
{
    private const ulong Rip = 0xffff_ffff_8100_0000;
    private const ulong PageOffset = 0xffff_8880_0000_0000; // the kernel's direct map: linear = physical + offset

    private readonly FakeGuestMemory _memory = new(0x10000);
    private readonly FakeCpu _cpu = new();
    private readonly InstructionFallback _fallback;

    public InstructionFallbackTests()
    {
        _fallback = new InstructionFallback(_memory);
        _cpu.Regs.Rip = Rip;
        _cpu.Regs.Rflags = 0x10246; // RF set, as an exit leaves it
    }

    [Fact]
    public void TryComplete_Int3_AdvancesOneByteAndInjectsBreakpointWithoutErrorCode()
    {
        FallbackOutcome outcome = _fallback.TryComplete(_cpu, [0xcc, 0x90]);

        Assert.True(outcome.Completed);
        Assert.Equal(Rip + 1, _cpu.Regs.Rip);
        Assert.Equal((EmulationLimits.VectorBreakpoint, (uint?)null), _cpu.Injected);
        Assert.Equal(0UL, _cpu.Regs.Rflags & EmulationLimits.RflagsRf);
        Assert.Equal(1, _fallback.Counts["int3"]);
    }

    [Theory]
    [InlineData("9b", 1)]
    [InlineData("0faef0", 3)]
    public void TryComplete_NoOp_AdvancesRipOnly(string hex, int length)
    {
        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString(hex));

        Assert.True(outcome.Completed);
        Assert.Equal(Rip + (ulong)length, _cpu.Regs.Rip);
        Assert.Null(_cpu.Injected);
    }

    [Fact]
    public void TryComplete_StacThenClac_SetsThenClearsAc()
    {
        Assert.True(_fallback.TryComplete(_cpu, [0x0f, 0x01, 0xcb]).Completed);
        Assert.NotEqual(0UL, _cpu.Regs.Rflags & EmulationLimits.RflagsAc);
        Assert.Equal(Rip + 3, _cpu.Regs.Rip);

        Assert.True(_fallback.TryComplete(_cpu, [0x0f, 0x01, 0xca]).Completed);
        Assert.Equal(0UL, _cpu.Regs.Rflags & EmulationLimits.RflagsAc);
        Assert.Equal(Rip + 6, _cpu.Regs.Rip);
        Assert.Equal(1, _fallback.Counts["stac"]);
        Assert.Equal(1, _fallback.Counts["clac"]);
        Assert.Equal(2, _fallback.Total);
    }

    [Fact]
    public void TryComplete_LdmxcsrFromStack_LoadsMxcsrThroughTheTranslatedAddress()
    {
        _cpu.Regs.Rbp = PageOffset + 0x2004;
        _memory.Write(new GuestAddress(0x2000), 0x1f80u | 0x6000u); // round toward zero, all masked

        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString("0fae55fc")); // ldmxcsr -4(%rbp)

        Assert.True(outcome.Completed, outcome.Failure);
        Assert.Equal(0x7f80u, _cpu.Fpu.Mxcsr);
        Assert.Equal(Rip + 4, _cpu.Regs.Rip);
    }

    [Fact]
    public void TryComplete_LdmxcsrReservedBits_InjectsGpZeroAndLeavesRip()
    {
        _cpu.Regs.Rsp = PageOffset + 0x3000;
        _memory.Write(new GuestAddress(0x3000), 0x0001_1f80u);

        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString("0fae1424")); // ldmxcsr (%rsp)

        Assert.True(outcome.Completed);
        Assert.Equal((EmulationLimits.VectorGeneralProtection, (uint?)0), _cpu.Injected);
        Assert.Equal(Rip, _cpu.Regs.Rip);
        Assert.Equal(0x1f80u, _cpu.Fpu.Mxcsr);
    }

    [Fact]
    public void TryComplete_StmxcsrAcrossAPageBoundary_WritesBothPages()
    {
        _cpu.Fpu.Mxcsr = 0x1234_1f80;
        _cpu.Regs.Rax = PageOffset + 0x4ffe;

        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString("0fae18")); // stmxcsr (%rax)

        Assert.True(outcome.Completed, outcome.Failure);
        byte[] got = new byte[4];
        _memory.Read(new GuestAddress(0x4ffe), got);
        Assert.Equal(0x1234_1f80u, BinaryPrimitives.ReadUInt32LittleEndian(got));
        Assert.Equal(Rip + 3, _cpu.Regs.Rip);
    }

    [Fact]
    public void TryComplete_GsRelativeStmxcsr_AddsTheGsBase()
    {
        _cpu.Sregs.Gs.Base = PageOffset + 0x5000;
        _cpu.Fpu.Mxcsr = 0x1f80;

        Assert.True(_fallback.TryComplete(_cpu, Convert.FromHexString("650fae1c2510000000")).Completed); // stmxcsr %gs:0x10

        Assert.Equal(0x1f80u, _memory.Read<uint>(new GuestAddress(0x5010)));
    }

    [Fact]
    public void TryComplete_OperandNotMapped_FailsNamingTheAddressAndChangesNothing()
    {
        _cpu.Regs.Rdi = 0x1234_0000; // outside the fake's direct map

        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString("0fae17")); // ldmxcsr (%rdi)

        Assert.False(outcome.Completed);
        Assert.Contains("0x12340000 is not mapped", outcome.Failure);
        Assert.Equal(Rip, _cpu.Regs.Rip);
        Assert.Equal(0, _fallback.Total);
    }

    [Fact]
    public void TryComplete_OperandBeyondRam_FailsSayingNotRam()
    {
        _cpu.Regs.Rdi = PageOffset + 0x20000; // mapped by the fake's page tables, but past the 64 KiB of RAM

        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString("0fae17"));

        Assert.False(outcome.Completed);
        Assert.Contains("is not RAM", outcome.Failure);
    }

    [Fact]
    public void TryComplete_UnknownInstruction_FailsWithoutTouchingTheCpu()
    {
        FallbackOutcome outcome = _fallback.TryComplete(_cpu, Convert.FromHexString("0fae2f")); // xrstor (%rdi)

        Assert.False(outcome.Completed);
        Assert.Null(outcome.Instruction);
        Assert.Equal(0, _cpu.SetRegsCalls);
    }

    [Fact]
    public void TryComplete_OutsideLongMode_Fails()
    {
        _cpu.Sregs.Cs.L = 0;

        FallbackOutcome outcome = _fallback.TryComplete(_cpu, [0xcc]);

        Assert.False(outcome.Completed);
        Assert.Contains("outside 64-bit mode", outcome.Failure);
        Assert.Equal(Rip, _cpu.Regs.Rip);
    }

    /// <summary>A vCPU in 64-bit mode whose page tables map the kernel's direct map (linear = physical + PageOffset).</summary>
    private sealed class FakeCpu : IFallbackCpu
    {
        public KvmRegs Regs;
        public KvmSregs Sregs;
        public KvmFpu Fpu;

        public FakeCpu()
        {
            Sregs.Cs.L = 1;
            Fpu.Mxcsr = 0x1f80;
        }

        public (byte Vector, uint? ErrorCode)? Injected { get; private set; }

        public int SetRegsCalls { get; private set; }

        public KvmRegs GetRegs() => Regs;

        public void SetRegs(in KvmRegs regs)
        {
            Regs = regs;
            SetRegsCalls++;
        }

        public KvmSregs GetSregs() => Sregs;

        public KvmFpu GetFpu() => Fpu;

        public void SetFpu(in KvmFpu fpu) => Fpu = fpu;

        public ulong? Translate(ulong linearAddress) =>
            linearAddress >= PageOffset && linearAddress < PageOffset + 0x100000 ? linearAddress - PageOffset : null;

        public void InjectException(byte vector, uint? errorCode) => Injected = (vector, errorCode);
    }
}
