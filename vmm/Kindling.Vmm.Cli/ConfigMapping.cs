using Kindling.Vmm.Boot;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Cli;

/// <summary>Turns a validated config file into <see cref="VirtualMachineOptions"/>, checking the files it names.</summary>
public static class ConfigMapping
{
    public const int DefaultVcpuCount = 1;
    public const int DefaultMemSizeMib = 128;

    /// <summary>Diagnostics: a file to which the VMM appends sampled vCPU RIPs (see VirtualMachineOptions.RipSamplePath).</summary>
    public const string RipSamplesVariable = "KINDLING_VMM_RIP_SAMPLES";

    /// <summary>The machine options; checks that the kernel and initrd files exist (and are files).</summary>
    public static VirtualMachineOptions ToOptions(VmConfig config, ISerialOutput serialOutput)
    {
        BootSourceConfig boot = config.BootSource ?? throw new CliException("boot-source is missing: set boot-source.kernel_image_path");
        RequireFile(boot.KernelImagePath, "boot-source.kernel_image_path", "kernel image");
        if (boot.InitrdPath is { Length: > 0 } initrd)
        {
            RequireFile(initrd, "boot-source.initrd_path", "initrd");
        }

        // Checked here, before KVM is opened, so a typo in a drive path is the error the user sees.
        foreach (DriveConfig drive in config.Drives)
        {
            RequireFile(drive.PathOnHost ?? "", $"drives[{drive.DriveId}].path_on_host", "disk image");
        }

        MachineConfig? machine = config.MachineConfig;
        CpuTemplate template = CpuTemplateOf(config);
        return new VirtualMachineOptions
        {
            KernelImagePath = boot.KernelImagePath,
            InitrdPath = boot.InitrdPath,
            BootArgs = boot.BootArgs,
            VcpuCount = machine?.VcpuCount ?? DefaultVcpuCount,
            MemSizeMib = machine?.MemSizeMib ?? DefaultMemSizeMib,
            CpuTemplate = template,
            SerialOutput = serialOutput,
            RipSamplePath = Environment.GetEnvironmentVariable(RipSamplesVariable) is { Length: > 0 } samples ? samples : null,
        };
    }

    /// <summary>machine-config.cpu_template parsed (None when unset); an unknown name is a <see cref="CliException"/>.</summary>
    public static CpuTemplate CpuTemplateOf(VmConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        CpuTemplate template = CpuTemplate.None;
        if (config.MachineConfig?.CpuTemplate is { } name && !Enum.TryParse(name, ignoreCase: true, out template))
        {
            throw new CliException($"machine-config.cpu_template \"{name}\" is unknown; use None, Minimal or Emulated");
        }

        return template;
    }

    private static void RequireFile(string path, string field, string what)
    {
        if (Directory.Exists(path))
        {
            throw new CliException($"{field}: {path} is a directory, not a {what} file");
        }

        if (!File.Exists(path))
        {
            throw new CliException($"{field}: {what} {path} does not exist; fix the path");
        }
    }
}
