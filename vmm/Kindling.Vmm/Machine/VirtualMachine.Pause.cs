using Kindling.Vmm.Boot;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Machine;

/// <summary>
/// The vCPUs' life (<see cref="VcpuRunLoop{TVcpu}"/>): creation with their CPUID, and pause and resume (PATCH /vm).
/// A pause takes every vCPU thread out of KVM_RUN (immediate_exit and the kick signal, as <see cref="Stop"/> does)
/// and parks it after a KVM_RUN that returned EINTR, so no I/O is left half done; devices keep their own threads.
/// While all vCPUs are parked no vCPU ioctl races KVM_RUN, so their state can be read and written (snapshots).
/// </summary>
public sealed partial class VirtualMachine
{
    private readonly CpuidEntry[] _supportedCpuid;

    /// <summary>True between <see cref="Pause"/> and <see cref="Resume"/>.</summary>
    public bool IsPaused => _loop.IsPaused;

    /// <summary>
    /// Takes every vCPU out of the guest and waits until all are parked. Throws <see cref="TimeoutException"/> when a
    /// vCPU does not leave KVM_RUN within <paramref name="timeout"/> (the VM is then left pausing: resume it).
    /// </summary>
    public void Pause(TimeSpan timeout) => _loop.Pause(timeout);

    /// <summary>Lets the parked vCPUs enter the guest again.</summary>
    public void Resume() => _loop.Resume();

    /// <summary>
    /// Creates the vCPUs, sets each one's CPUID from the CPU template, hands it to <paramref name="configure"/> (boot
    /// registers, or a snapshot's state) and starts their threads, parked when <paramref name="paused"/>. The one path
    /// for a booted and a restored machine.
    /// </summary>
    private void LaunchVcpus(Action<VcpuFd> configure, bool paused)
    {
        int count = _options.VcpuCount;
        CpuidEntry[] supported = _supportedCpuid;
        var vcpus = new List<VcpuFd>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                VcpuFd vcpu = _vm.CreateVcpu(i);
                vcpus.Add(vcpu);
                VcpuSetup.SetCpuid(vcpu, supported, _options.CpuTemplate, count);
                configure(vcpu);
            }

            VcpuKicker.EnsureInstalled();
        }
        catch
        {
            vcpus.ForEach(v => v.Dispose());
            throw;
        }

        _phases.Mark("vcpus");
        _loop.Launch(vcpus, paused);
    }
}
