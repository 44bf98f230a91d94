using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Emulation;

/// <summary><see cref="IFallbackCpu"/> over a KVM vCPU (KVM_GET/SET_REGS, _SREGS, _FPU, KVM_TRANSLATE, KVM_SET_VCPU_EVENTS).</summary>
public sealed class VcpuFallbackCpu(VcpuFd vcpu) : IFallbackCpu
{
    public KvmRegs GetRegs() => vcpu.GetRegs();

    public void SetRegs(in KvmRegs regs) => vcpu.SetRegs(regs);

    public KvmSregs GetSregs() => vcpu.GetSregs();

    public KvmFpu GetFpu() => vcpu.GetFpu();

    public void SetFpu(in KvmFpu fpu) => vcpu.SetFpu(fpu);

    public ulong? Translate(ulong linearAddress)
    {
        KvmTranslation t = vcpu.Translate(linearAddress);
        return t.Valid != 0 ? t.PhysicalAddress : null;
    }

    public void InjectException(byte vector, uint? errorCode)
    {
        KvmVcpuEvents events = vcpu.GetVcpuEvents();
        events.ExceptionInjected = 1;
        events.ExceptionPending = 0;
        events.ExceptionNr = vector;
        events.ExceptionHasErrorCode = errorCode.HasValue ? (byte)1 : (byte)0;
        events.ExceptionErrorCode = errorCode ?? 0;
        events.Flags = 0;
        vcpu.SetVcpuEvents(events);
    }
}
