using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>
/// What a golden snapshot depends on: the guest image (root drive), kernel and initramfs (each by path, size and
/// modification time: the image store writes a new file for a new build), the kernel command line without the
/// job's own <c>ip=</c>, the CPU template, vCPUs, memory and whether the guest has a network interface. A change
/// to any of them is another key, so a snapshot never outlives the image or kernel it was taken from.
/// </summary>
public sealed record SnapshotKey(string Image, string Kernel, string Initrd, string BootArgs, string CpuTemplate, int Vcpus, int MemoryMib, bool Network)
{
    /// <summary>Bump when what a snapshot holds changes meaning (the runner's side of it).</summary>
    public const string Format = "kindling-golden/1";

    /// <summary>The key of the VM <paramref name="config"/> describes.</summary>
    public static SnapshotKey For(VmConfig config)
    {
        string root = config.Drives.FirstOrDefault(d => d.IsRootDevice)?.PathOnHost ?? "";
        return new SnapshotKey(
            Identity(root),
            Identity(config.BootSource?.KernelImagePath),
            Identity(config.BootSource?.InitrdPath),
            WithoutJobArgs(config.BootSource?.BootArgs ?? ""),
            config.MachineConfig?.CpuTemplate ?? "None",
            config.MachineConfig?.VcpuCount ?? 1,
            config.MachineConfig?.MemSizeMib ?? 128,
            config.NetworkInterfaces.Count > 0);
    }

    /// <summary>The kernel command line without <c>ip=</c> (the job's address: a restored guest gets it from the job document).</summary>
    public static string WithoutJobArgs(string bootArgs) =>
        string.Join(' ', bootArgs.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith("ip=", StringComparison.Ordinal)));

    /// <summary>The key as 16 hex digits: the folder name of its snapshot in the store.</summary>
    public string Hash
    {
        get
        {
            string text = string.Join('\n', Format, Image, Kernel, Initrd, BootArgs, CpuTemplate, Vcpus.ToString(CultureInfo.InvariantCulture),
                MemoryMib.ToString(CultureInfo.InvariantCulture), Network ? "net" : "nonet");
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        }
    }

    /// <summary>A short description for the log and the admin page.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Path.GetFileName(Image.Split('|')[0])}, {Path.GetFileName(Kernel.Split('|')[0])}, {CpuTemplate}, {Vcpus} vCPU, {MemoryMib} MiB");

    private static string Identity(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "";
        }

        var file = new FileInfo(path);
        return file.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{file.FullName}|{file.Length}|{file.LastWriteTimeUtc.Ticks}")
            : file.FullName + "|missing";
    }
}
