using Kindling.Images.Rootfs;

namespace Kindling.Images;

/// <summary>Which guest kernel an image set is built around.</summary>
public enum GuestKernel
{
    /// <summary>Debian's cloud kernel (linux-image-cloud-amd64) with its modules: the default on hardware KVM.</summary>
    Debian,

    /// <summary>
    /// Kindling's own kernel, built from Debian's linux-source with a Firecracker-like configuration and the
    /// emulated-syscall patch: boots fast, has no modules, and takes system calls on hosts whose KVM emulates guest
    /// kernel code (boot it with the <c>Emulated</c> CPU template and <c>kindling_syscall=1</c>). Its initramfs is
    /// not compressed: decompression is emulated kernel work there.
    /// </summary>
    Kindling,
}

/// <summary>The guest kernel in both forms and its initramfs. Boot the ELF vmlinux (the bzImage's decompressor is
/// slow under emulated KVM); the bzImage is kept for loaders that want it.</summary>
public sealed record KernelArtifacts(string BzImagePath, string VmlinuxPath, string InitramfsPath, string KernelVersion, string Package, IReadOnlyList<string> Modules)
{
    public GuestKernel Kind { get; init; } = GuestKernel.Debian;

    /// <summary>The kernel command-line words this kernel needs on hosts whose KVM emulates guest kernel code.</summary>
    public IReadOnlyList<string> EmulatedHostBootArgs => Kind == GuestKernel.Kindling ? [KindlingSyscallBootArg] : [];

    /// <summary>Turns on the emulated-syscall patch of <see cref="GuestKernel.Kindling"/>.</summary>
    public const string KindlingSyscallBootArg = "kindling_syscall=1";
}

/// <summary>A cached, read-only base root filesystem image (attach read-only as the first drive).</summary>
public sealed record BaseImage(Flavour Flavour, string Path, string RecipeHash, long SizeBytes, bool Built);

/// <summary>One cached artifact, for <c>kindling images list</c>.</summary>
public sealed record ImageInfo(string Kind, string Name, string Path, long SizeBytes, long AllocatedBytes, DateTimeOffset Created);
