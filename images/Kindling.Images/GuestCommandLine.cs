using Kindling.Vmm.Contract;

namespace Kindling.Images;

/// <summary>
/// The guest's part of the kernel command line (images/guest/PROTOCOL.md), on the contract's one
/// <see cref="KernelCommandLine"/> type: <c>console=ttyS0 reboot=k panic=1 pci=off</c>, the kindling.* options init
/// and the agent read (kindling.base, kindling.overlay, kindling.mmds, kindling.agent=1), and anything added. No
/// root= is given: the initramfs builds the root. The VMM appends its virtio_mmio.device= entries, so
/// <see cref="Build"/> leaves <see cref="KernelCommandLine.ReservedForVmm"/> bytes free.
/// </summary>
public static class GuestCommandLine
{
    /// <summary>What every guest gets.</summary>
    public const string Defaults = "console=ttyS0 reboot=k panic=1 pci=off kindling.agent=1";

    /// <summary>The agent's request timeout on hosts whose KVM emulates guest kernel code (every process start costs seconds).</summary>
    public const int EmulatedHostHttpTimeoutSeconds = 120;

    /// <summary>A command line holding <see cref="Defaults"/>.</summary>
    public static KernelCommandLine Create() => new(Defaults);

    public static KernelCommandLine WithBaseDevice(this KernelCommandLine cmdline, string device) => Checked(cmdline).Set("kindling.base", device);

    public static KernelCommandLine WithOverlayDevice(this KernelCommandLine cmdline, string device) => Checked(cmdline).Set("kindling.overlay", device);

    /// <summary>No drives: the agent runs from the initramfs.</summary>
    public static KernelCommandLine WithoutDrives(this KernelCommandLine cmdline) =>
        Checked(cmdline).Set("kindling.base", "none").Set("kindling.overlay", "none");

    public static KernelCommandLine WithMmdsAddress(this KernelCommandLine cmdline, string address) => Checked(cmdline).Set("kindling.mmds", address);

    /// <summary>How long the agent waits for each metadata-service request (default 10 s).</summary>
    public static KernelCommandLine WithHttpTimeout(this KernelCommandLine cmdline, int seconds) =>
        Checked(cmdline).Set("kindling.http_timeout", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// What a guest needs on a host whose KVM emulates guest kernel code: the agent's longer request timeout and
    /// the words <paramref name="kernel"/> asks for there (<see cref="KernelArtifacts.EmulatedHostBootArgs"/>).
    /// </summary>
    public static KernelCommandLine ForEmulatedHost(this KernelCommandLine cmdline, KernelArtifacts kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        Checked(cmdline).WithHttpTimeout(EmulatedHostHttpTimeoutSeconds);
        foreach (string word in kernel.EmulatedHostBootArgs)
        {
            string[] kv = word.Split('=', 2);
            cmdline.Set(kv[0], kv.Length > 1 ? kv[1] : null);
        }

        return cmdline;
    }

    /// <summary>The command line as boot_args, or an <see cref="ImageBuildException"/> when it leaves the VMM too little room.</summary>
    public static string Build(this KernelCommandLine cmdline)
    {
        try
        {
            return Checked(cmdline).ToBootArgs();
        }
        catch (InvalidOperationException e)
        {
            throw new ImageBuildException(e.Message, e);
        }
    }

    private static KernelCommandLine Checked(KernelCommandLine cmdline)
    {
        ArgumentNullException.ThrowIfNull(cmdline);
        return cmdline;
    }
}
