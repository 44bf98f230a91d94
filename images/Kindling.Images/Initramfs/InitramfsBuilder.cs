using System.IO.Compression;
using Kindling.Images.Kernel;

namespace Kindling.Images.Initramfs;

/// <summary>
/// Builds the initramfs (newc cpio, gzip-compressed): busybox at /kindling/bin/busybox with every applet linked
/// from /bin and /sbin, the kernel modules under /lib/modules with modules.order (the load order), /init, the agent
/// at /kindling/agent.sh (for drive-less boots), the mount points init uses, and /dev/console and /dev/null so
/// init has a console before devtmpfs is mounted. Deterministic: the same inputs give the same bytes.
/// </summary>
internal static class InitramfsBuilder
{
    public const uint ConsoleMajor = 5, ConsoleMinor = 1, NullMajor = 1, NullMinor = 3;
    private const uint Executable = 0x1ED; // 0755
    private const uint Sticky1777 = 0x3FF;

    public static async Task<byte[]> BuildAsync(GuestFiles guest, KernelBuild kernel, IReadOnlyList<string> applets, bool gzip, CancellationToken ct)
    {
        using MemoryStream cpio = new();
        CpioNewcWriter w = new(cpio);
        foreach (string d in new[] { "bin", "sbin", "dev", "etc", "kindling", "kindling/bin", "lib", "lib/modules", "mnt", "mnt/base", "mnt/overlay", "newroot", "proc", "root", "run", "sys" })
        {
            w.AddDirectory(d);
        }

        w.AddDirectory("tmp", Sticky1777);
        w.AddCharDevice("dev/console", ConsoleMajor, ConsoleMinor);
        w.AddCharDevice("dev/null", NullMajor, NullMinor, 0x1B6);
        w.AddFile(GuestFiles.GuestBusyboxPath, guest.Busybox, Executable);
        w.AddSymlink("bin/busybox", "/" + GuestFiles.GuestBusyboxPath);
        foreach (string a in applets)
        {
            w.AddSymlink((IsSbinApplet(a) ? "sbin/" : "bin/") + a, "/" + GuestFiles.GuestBusyboxPath);
        }

        w.AddFile("init", guest.Init, Executable);
        w.AddFile(GuestFiles.GuestAgentPath, guest.Agent, Executable);
        w.AddFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"u8);
        w.AddFile("etc/group", "root:x:0:\n"u8);
        foreach (string m in kernel.ModuleFiles)
        {
            w.AddFile("lib/modules/" + m, await File.ReadAllBytesAsync(Path.Combine(kernel.ModulesDirectory, m), ct));
        }

        w.AddFile("lib/modules/modules.order", System.Text.Encoding.UTF8.GetBytes(string.Concat(kernel.ModuleFiles.Select(f => f + "\n"))));
        w.Finish();
        if (!gzip)
        {
            return cpio.ToArray();
        }

        using MemoryStream gz = new();
        using (GZipStream z = new(gz, CompressionLevel.Optimal, leaveOpen: true))
        {
            cpio.Position = 0;
            await cpio.CopyToAsync(z, ct);
        }

        return gz.ToArray();
    }

    private static bool IsSbinApplet(string applet) =>
        applet is "init" or "insmod" or "modprobe" or "rmmod" or "lsmod" or "switch_root" or "reboot" or "poweroff"
            or "halt" or "ifconfig" or "route" or "mdev" or "losetup" or "pivot_root";
}
