using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Tests.Kvm;

public sealed class EmulationFailureTests
{
    private static VcpuExit Emulation(params ulong[] data) => new()
    {
        Kind = VcpuExitKind.InternalError,
        ExitReason = KvmExitReason.InternalError,
        Code = KvmExitReason.InternalErrorEmulation,
        Data = data,
    };

    [Fact]
    public void InstructionBytes_FlagSet_ReturnsInsnSizeBytes()
    {
        // insn_size = 4, insn_bytes = f0 48 0f c7 (LOCK CMPXCHG16B prefix bytes), rest nop padding.
        ulong word1 = 0x04UL | (0xf0UL << 8) | (0x48UL << 16) | (0x0fUL << 24) | (0xc7UL << 32) | (0x90UL << 40) | (0x90UL << 48) | (0x90UL << 56);
        VcpuExit exit = Emulation(EmulationFailure.FlagInstructionBytes, word1, 0x9090909090909090UL);

        Assert.Equal(new byte[] { 0xf0, 0x48, 0x0f, 0xc7 }, EmulationFailure.InstructionBytes(exit));
    }

    [Fact]
    public void InstructionBytes_FlagClear_ReturnsNull()
    {
        Assert.Null(EmulationFailure.InstructionBytes(Emulation(0, 0x0102, 0)));
    }

    [Fact]
    public void InstructionBytes_InsnSizeAbove15_IsClamped()
    {
        VcpuExit exit = Emulation(EmulationFailure.FlagInstructionBytes, 0xff, 0);

        Assert.Equal(EmulationFailure.MaxInstructionBytes, EmulationFailure.InstructionBytes(exit)!.Length);
    }

    [Fact]
    public void InstructionBytes_OtherSuberror_ReturnsNull()
    {
        VcpuExit exit = Emulation(EmulationFailure.FlagInstructionBytes, 0x01cc, 0) with { Code = KvmExitReason.InternalErrorDeliveryEv };

        Assert.Null(EmulationFailure.InstructionBytes(exit));
    }
}
