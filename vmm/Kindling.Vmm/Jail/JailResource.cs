namespace Kindling.Vmm.Jail;

/// <summary>
/// A host file the VM needs (kernel, initrd, drive image), placed at <see cref="JailPath"/> inside the chroot.
/// Writable resources are handed to the jail's uid/gid; read-only ones keep their owner and mode (a hard link
/// shares the inode, so it must already be readable by the jail's uid).
/// </summary>
public sealed record JailResource(string HostPath, string JailPath, bool Writable = false);
