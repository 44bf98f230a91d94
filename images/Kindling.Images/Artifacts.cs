using Kindling.Images.Rootfs;

namespace Kindling.Images;

/// <summary>The guest kernel in both forms and its initramfs. Boot the ELF vmlinux (the bzImage's decompressor is
/// slow under emulated KVM); the bzImage is kept for loaders that want it.</summary>
public sealed record KernelArtifacts(string BzImagePath, string VmlinuxPath, string InitramfsPath, string KernelVersion, string Package, IReadOnlyList<string> Modules);

/// <summary>A cached, read-only base root filesystem image (attach read-only as the first drive).</summary>
public sealed record BaseImage(Flavour Flavour, string Path, string RecipeHash, long SizeBytes, bool Built);

/// <summary>One cached artifact, for <c>kindling images list</c>.</summary>
public sealed record ImageInfo(string Kind, string Name, string Path, long SizeBytes, long AllocatedBytes, DateTimeOffset Created);
