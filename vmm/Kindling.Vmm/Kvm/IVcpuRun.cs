namespace Kindling.Vmm.Kvm;

/// <summary>
/// The part of a vCPU that its run loop uses: KVM_RUN, the data of the last I/O or MMIO exit, and
/// kvm_run.immediate_exit. <see cref="VcpuFd"/> is the real one; the run loop's tests script exits through a double.
/// <para>KVM's contract (Documentation/virt/kvm/api.rst, "immediate_exit" and the KVM_EXIT_IO/KVM_EXIT_MMIO notes):
/// an IN or MMIO load is complete, its data in the guest's register, only once userspace has entered KVM_RUN again;
/// KVM_RUN first finishes that pending operation (which may hand out one more exit for the next fragment) and only
/// then honours immediate_exit or a pending signal by returning EINTR (<see cref="VcpuExitKind.Intr"/>). So a
/// KVM_RUN that returned EINTR leaves the vCPU between two instructions.</para>
/// </summary>
public interface IVcpuRun
{
    /// <summary>The vCPU index (also its APIC ID).</summary>
    int Id { get; }

    /// <summary>
    /// The data of the last IN/OUT or MMIO exit: read it for OUT/MMIO writes, fill it for IN/MMIO reads before the
    /// next <see cref="Run"/>. Empty for other exits.
    /// </summary>
    Span<byte> ExitData { get; }

    /// <summary>KVM_RUN: completes the last exit's pending I/O, then enters the guest until the next exit.</summary>
    VcpuExit Run();

    /// <summary>Sets or clears kvm_run.immediate_exit; any thread may call it.</summary>
    void RequestImmediateExit(bool value);
}
