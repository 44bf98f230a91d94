using System.Diagnostics;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Kvm;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>
/// The part of a machine that no configuration changes: /dev/kvm open with its API version and capabilities checked,
/// the VM (KVM_CREATE_VM) with its TSS and identity-map pages, in-kernel IRQ chip and PIT, the host's supported CPUID,
/// and the vCPU kick signal's handler. <see cref="VirtualMachine.Create(VirtualMachineOptions, ILoggerFactory, PreparedVm?)"/>
/// builds one at InstanceStart, or takes one that <see cref="PrepareAhead"/> made while the VMM waited for its
/// configuration, which moves this work off InstanceStart's critical path (issue 24). Guest RAM, the vCPUs and the
/// devices depend on machine-config and the devices' PUTs, so they stay at InstanceStart.
/// </summary>
public sealed partial class PreparedVm : IDisposable
{
    private KvmSystem? _kvm;
    private VmFd? _vm;

    private PreparedVm(string devicePath, KvmSystem kvm, VmFd vm, CpuidEntry[] supportedCpuid, IReadOnlyList<(string, TimeSpan)> phases)
    {
        DevicePath = devicePath;
        _kvm = kvm;
        _vm = vm;
        SupportedCpuid = supportedCpuid;
        Phases = phases;
    }

    /// <summary>The KVM device it was opened from.</summary>
    public string DevicePath { get; }

    /// <summary>KVM_GET_SUPPORTED_CPUID, asked once.</summary>
    public CpuidEntry[] SupportedCpuid { get; }

    /// <summary>How long each step took ("kvm open+checks", "vm create", "cpuid query").</summary>
    public IReadOnlyList<(string Phase, TimeSpan Took)> Phases { get; }

    /// <summary>Opens KVM and creates the VM now. Throws <see cref="KvmException"/> with the actionable message.</summary>
    public static PreparedVm Create(string devicePath)
    {
        var phases = new List<(string, TimeSpan)>();
        long mark = Stopwatch.GetTimestamp();
        void Mark(string phase)
        {
            long now = Stopwatch.GetTimestamp();
            phases.Add((phase, Stopwatch.GetElapsedTime(mark, now)));
            mark = now;
        }

        KvmSystem kvm = KvmSystem.Open(devicePath);
        VmFd? vm = null;
        try
        {
            kvm.CheckRequirements();
            Mark("kvm open+checks");
            vm = kvm.CreateVm();
            vm.SetTssAddress(BootLayout.TssAddress);
            vm.SetIdentityMapAddress(BootLayout.IdentityMapAddress);
            vm.CreateIrqChip();
            vm.CreatePit2();
            if (kvm.CheckExtension(KvmCapability.ExitOnEmulationFailure) > 0)
            {
                // Emulation failures then carry the instruction bytes, which the error message prints.
                vm.EnableCapability(KvmCapability.ExitOnEmulationFailure, 1);
            }

            Mark("vm create");
            CpuidEntry[] supported = [.. kvm.GetSupportedCpuid().Select(VcpuSetup.FromKvm)];
            VcpuKicker.EnsureInstalled();
            Mark("cpuid query+kick handler");
            return new PreparedVm(devicePath, kvm, vm, supported, phases);
        }
        catch
        {
            vm?.Dispose();
            kvm.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts <see cref="Create"/> on a thread-pool thread when <paramref name="devicePath"/> exists, so the API answers
    /// at once. The task's result is null when there is no device or the preparation failed (logged at Debug): then
    /// InstanceStart does the work itself and reports its error as it always has.
    /// </summary>
    public static Task<PreparedVm?> PrepareAhead(string devicePath, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (!File.Exists(devicePath))
        {
            return Task.FromResult<PreparedVm?>(null);
        }

        return Task.Run(() =>
        {
            try
            {
                return (PreparedVm?)Create(devicePath);
            }
            catch (Exception e) when (e is KvmException or IOException or UnauthorizedAccessException)
            {
                LogNotPrepared(logger, devicePath, e.Message);
                return null;
            }
        });
    }

    /// <summary>Hands the KVM system and VM over to the machine, which owns them from then on.</summary>
    internal (KvmSystem Kvm, VmFd Vm) Take()
    {
        KvmSystem kvm = _kvm ?? throw new InvalidOperationException("the prepared VM was already taken");
        VmFd vm = _vm!;
        _kvm = null;
        _vm = null;
        return (kvm, vm);
    }

    public void Dispose()
    {
        _vm?.Dispose();
        _kvm?.Dispose();
        _vm = null;
        _kvm = null;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "the VM was not prepared ahead of InstanceStart ({Path}: {Why}); InstanceStart creates it")]
    private static partial void LogNotPrepared(ILogger logger, string path, string why);
}
