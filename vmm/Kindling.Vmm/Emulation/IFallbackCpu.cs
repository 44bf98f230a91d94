using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Emulation;

/// <summary>The vCPU state <see cref="InstructionFallback"/> reads and changes: a KVM vCPU, or a fake in tests.</summary>
public interface IFallbackCpu
{
    KvmRegs GetRegs();

    void SetRegs(in KvmRegs regs);

    KvmSregs GetSregs();

    KvmFpu GetFpu();

    void SetFpu(in KvmFpu fpu);

    /// <summary>The guest-physical address of <paramref name="linearAddress"/>, or null when it is not mapped.</summary>
    ulong? Translate(ulong linearAddress);

    /// <summary>Injects exception <paramref name="vector"/> (with <paramref name="errorCode"/> when it has one) on the next entry.</summary>
    void InjectException(byte vector, uint? errorCode);
}
