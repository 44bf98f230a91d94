namespace Kindling.Images;

/// <summary>Where images are cached and what they are built from.</summary>
public sealed class ImageStoreOptions
{
    /// <summary>The cache directory (kernel/, initramfs/, base/, overlays/ under it).</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>images/guest (init, agent.sh, modules.list); default: the copy next to this assembly.</summary>
    public string GuestDirectory { get; init; } = GuestFiles.DefaultDirectory;

    /// <summary>A static busybox (Debian busybox-static).</summary>
    public string BusyboxPath { get; init; } = "/bin/busybox";

    /// <summary>The Debian kernel metapackage resolved to the real linux-image package.</summary>
    public string KernelPackage { get; init; } = "linux-image-cloud-amd64";

    /// <summary>The Debian kernel source package Kindling's own guest kernel is built from (<see cref="GuestKernel.Kindling"/>).</summary>
    public string KernelSourcePackage { get; init; } = "linux-source-6.1";

    public string DebianSuite { get; init; } = "bookworm";
    public string DebianMirror { get; init; } = "http://deb.debian.org/debian";

    /// <summary>Default per-job overlay size (sparse): 1 GiB.</summary>
    public long OverlaySizeBytes { get; init; } = 1L << 30;

    /// <summary>Where per-job overlays are created; default overlays/ under the cache.</summary>
    public string? OverlayDirectory { get; init; }

    /// <summary>
    /// The actions/runner release the <see cref="Rootfs.Flavour.Github"/> flavour holds
    /// (<c>Kindling:Images:ActionsRunner</c>); null: that flavour is refused, naming the keys to set.
    /// </summary>
    public ActionsRunner.ActionsRunnerSource? ActionsRunner { get; init; }
}
