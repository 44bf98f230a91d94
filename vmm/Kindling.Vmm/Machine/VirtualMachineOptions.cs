using Kindling.Vmm.Boot;
using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Machine;

/// <summary>What a <see cref="VirtualMachine"/> is built from (the config file's boot-source and machine-config).</summary>
public sealed record VirtualMachineOptions
{
    /// <summary>ELF vmlinux or bzImage.</summary>
    public required string KernelImagePath { get; init; }

    public string? InitrdPath { get; init; }

    /// <summary>The kernel command line given by the user; devices append to <see cref="VirtualMachine.CommandLine"/>.</summary>
    public string? BootArgs { get; init; }

    public int VcpuCount { get; init; } = 1;

    public int MemSizeMib { get; init; } = 128;

    public CpuTemplate CpuTemplate { get; init; } = CpuTemplate.None;

    /// <summary>Where the guest's COM1 output goes.</summary>
    public required ISerialOutput SerialOutput { get; init; }

    /// <summary>
    /// Diagnostics: when set, every vCPU's RIP is sampled every <see cref="RipSampleInterval"/> (a kick out of
    /// KVM_RUN) and appended to this file as "vcpu rip" lines in hex: where a slow guest spends its time.
    /// </summary>
    public string? RipSamplePath { get; init; }

    public TimeSpan RipSampleInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>The KVM device (tests may point elsewhere).</summary>
    public string KvmDevicePath { get; init; } = Kvm.KvmSystem.DevicePath;
}
