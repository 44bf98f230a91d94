using Kindling.Vmm.Emulation;
using Xunit;

namespace Kindling.Vmm.Tests.Emulation;

/// <summary>Bytes as gcc assembles them (objdump of the instruction forms a kernel uses).</summary>
public sealed class InstructionDecoderTests
{
    [Theory]
    [InlineData("cc", FallbackKind.Int3, 1)]
    [InlineData("9b", FallbackKind.Fwait, 1)]
    [InlineData("0f01ca", FallbackKind.Clac, 3)]
    [InlineData("0f01cb", FallbackKind.Stac, 3)]
    [InlineData("0faef0", FallbackKind.Mfence, 3)]
    [InlineData("0faee8", FallbackKind.Lfence, 3)]
    [InlineData("0faef8", FallbackKind.Sfence, 3)]
    public void Decode_OperandlessInstruction_KindAndLength(string hex, FallbackKind kind, int length)
    {
        FallbackInstruction? insn = InstructionDecoder.Decode(Convert.FromHexString(hex + "90909090"));

        Assert.NotNull(insn);
        Assert.Equal(kind, insn.Kind);
        Assert.Equal(length, insn.Length);
        Assert.Null(insn.Memory);
    }

    [Fact]
    public void Decode_LdmxcsrDisp8FromRbp_BaseAndNegativeDisplacement()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("0fae55fc"))!; // ldmxcsr -4(%rbp)

        Assert.Equal(FallbackKind.Ldmxcsr, insn.Kind);
        Assert.Equal(4, insn.Length);
        Assert.Equal(new MemoryOperand(5, MemoryOperand.NoRegister, 1, -4, false, false, SegmentOverride.None), insn.Memory);
    }

    [Fact]
    public void Decode_LdmxcsrRspNeedsSib_BaseRsp()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("0fae1424"))!; // ldmxcsr (%rsp)

        Assert.Equal(4, insn.Length);
        Assert.Equal(new MemoryOperand(4, MemoryOperand.NoRegister, 1, 0, false, false, SegmentOverride.None), insn.Memory);
    }

    [Fact]
    public void Decode_LdmxcsrRipRelative_DisplacementFromTheNextInstruction()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("0fae1510000000"))!; // ldmxcsr 0x10(%rip)

        Assert.Equal(7, insn.Length);
        Assert.True(insn.Memory!.RipRelative);
        Assert.Equal(0x10, insn.Memory.Displacement);
        Assert.Equal(0x1000UL + 7 + 0x10, insn.Memory.EffectiveAddress(new() { Rip = 0x1000 }, insn.Length, 0, 0));
    }

    [Fact]
    public void Decode_LdmxcsrRexB_BaseR8()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("410fae10"))!; // ldmxcsr (%r8)

        Assert.Equal(4, insn.Length);
        Assert.Equal(8, insn.Memory!.BaseRegister);
    }

    [Fact]
    public void Decode_LdmxcsrGsAbsolute_GsBaseAddedNoRegisters()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("650fae142534120000"))!; // ldmxcsr %gs:0x1234

        Assert.Equal(9, insn.Length);
        Assert.Equal(new MemoryOperand(MemoryOperand.NoRegister, MemoryOperand.NoRegister, 1, 0x1234, false, false, SegmentOverride.Gs), insn.Memory);
        Assert.Equal(0xffff_8880_0000_1234UL, insn.Memory!.EffectiveAddress(new(), insn.Length, 0, 0xffff_8880_0000_0000));
    }

    [Fact]
    public void Decode_StmxcsrScaledIndex_BaseIndexScaleDisp32()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("0fae9cc800010000"))!; // stmxcsr 0x100(%rax,%rcx,8)

        Assert.Equal(FallbackKind.Stmxcsr, insn.Kind);
        Assert.Equal(8, insn.Length);
        Assert.Equal(0x10UL + (3 * 8) + 0x100, insn.Memory!.EffectiveAddress(new() { Rax = 0x10, Rcx = 3 }, insn.Length, 0, 0));
    }

    [Fact]
    public void Decode_LdmxcsrRexXB_R12PlusR13Times2()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("430fae146c"))!; // ldmxcsr (%r12,%r13,2)

        Assert.Equal(5, insn.Length);
        Assert.Equal(new MemoryOperand(12, 13, 2, 0, false, false, SegmentOverride.None), insn.Memory);
    }

    [Fact]
    public void Decode_AddressSizePrefix_EffectiveAddressTruncatedTo32Bits()
    {
        FallbackInstruction insn = InstructionDecoder.Decode(Convert.FromHexString("670fae10"))!; // addr32 ldmxcsr (%eax)

        Assert.Equal(4, insn.Length);
        Assert.Equal(0x1234_5678UL, insn.Memory!.EffectiveAddress(new() { Rax = 0xffff_ffff_1234_5678 }, insn.Length, 0, 0));
    }

    [Theory]
    [InlineData("0fae2f")] // xrstor (%rdi): not completed
    [InlineData("f0480fc70f")] // lock cmpxchg16b (%rdi)
    [InlineData("66440f6ef9")] // movd %ecx,%xmm15
    [InlineData("0fae14")] // ldmxcsr with its SIB byte cut off
    [InlineData("0fae15100000")] // ldmxcsr rip-relative with a short displacement
    [InlineData("0faed0")] // group 15 /2 with a register operand is not ldmxcsr
    [InlineData("0f01")] // CLAC cut short
    [InlineData("")]
    [InlineData("666666666666666666666666666666cc")] // 15 prefixes leave no room for the opcode
    public void Decode_NotCompletedOrMalformed_Null(string hex)
    {
        Assert.Null(InstructionDecoder.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Decode_RandomBytes_NeverThrowsAndLengthWithinTheInput()
    {
        var random = new Random(11);
        byte[] bytes = new byte[15];
        for (int i = 0; i < 100_000; i++)
        {
            random.NextBytes(bytes);
            int length = random.Next(0, 16);
            FallbackInstruction? insn = InstructionDecoder.Decode(bytes.AsSpan(0, length));
            if (insn is not null)
            {
                Assert.InRange(insn.Length, 1, length);
            }
        }
    }
}
