
namespace Kindling.Vmm.Jail;

/// <summary>
/// Builds a jail's root folder on the host: device nodes, folders, FIFOs, hard links to the VM's files, and empty
/// mount points for what the jailed process binds itself (the .NET runtime, the app, files on other file systems).
/// </summary>
internal sealed class ChrootBuilder(JailPaths paths, uint uid, uint gid)
{
    private const uint DirectoryMode = 0x1ed; // 0755
    private const uint PrivateDirectoryMode = 0x1c0; // 0700
    private const uint FifoMode = 0x180; // 0600
    private const uint ExecutableMode = 0x16d; // 0555

    /// <summary>Files that must be bound by the jailed process (hard link impossible across file systems).</summary>
    public List<JailResource> BoundFiles { get; } = [];

    public void CreateRoot()
    {
        Directory.CreateDirectory(paths.RootDir);
        LibcJail.ChangeMode(paths.RootDir, DirectoryMode);
    }

    public void CreateDevices()
    {
        foreach (JailDevices.Node node in JailDevices.All)
        {
            string host = paths.HostPathOf(node.JailPath);
            Directory.CreateDirectory(Path.GetDirectoryName(host)!);
            LibcJail.MakeNode(host, LibcJail.S_IFCHR | node.Mode, LibcJail.MakeDev(node.Major, node.Minor));
            // mknod applies the umask: set the mode explicitly.
            LibcJail.ChangeMode(host, node.Mode);
            if (node.OwnedByJail)
            {
                LibcJail.ChangeOwner(host, uid, gid);
            }
        }
    }

    public void CreateJailDirectory(string jailPath)
    {
        string host = paths.HostPathOf(jailPath);
        Directory.CreateDirectory(host);
        LibcJail.ChangeMode(host, PrivateDirectoryMode);
        LibcJail.ChangeOwner(host, uid, gid);
    }

    /// <summary>An empty folder at the same path inside the jail, for a read-only bind mount.</summary>
    public void CreateMountPoint(string hostDirectory) => Directory.CreateDirectory(paths.HostPathOf(hostDirectory));

    /// <summary>
    /// The FIFO, and next to it its empty spill file (<see cref="Logging.SerialOutputs.SpillSuffix"/>), both owned by
    /// the jail's uid: the VMM cannot create files in a root-owned jail folder, and without the spill file its sink
    /// could only hold the guest back while the reader lags.
    /// </summary>
    public void CreateFifo(string jailPath)
    {
        string host = paths.HostPathOf(jailPath);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        LibcJail.MakeFifo(host, FifoMode);
        LibcJail.ChangeOwner(host, uid, gid);
        string spill = host + Logging.SerialOutputs.SpillSuffix;
        File.WriteAllBytes(spill, []);
        LibcJail.ChangeMode(spill, FifoMode);
        LibcJail.ChangeOwner(spill, uid, gid);
    }

    /// <summary>
    /// Places the native kindling-vmm: a hard link, or across file systems a copy (one file, as Firecracker's jailer
    /// copies firecracker), never a bind mount: it is exec'd from the chroot before any mount of the jail exists.
    /// </summary>
    public void PlaceExecutable(JailResource executable)
    {
        string host = paths.HostPathOf(executable.JailPath);
        if (LibcJail.TryLink(executable.HostPath, host) == Libc.EXDEV)
        {
            File.Copy(executable.HostPath, host);
            LibcJail.ChangeMode(host, ExecutableMode);
        }
    }

    /// <summary>Hard-links <paramref name="resource"/>; across file systems, leaves an empty file to bind onto.</summary>
    public void LinkResource(JailResource resource)
    {
        if (!File.Exists(resource.HostPath))
        {
            throw new JailException($"VM file '{resource.HostPath}' (for {resource.JailPath} in the jail) does not exist; fix the path in the VM config");
        }

        string host = paths.HostPathOf(resource.JailPath);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        if (LibcJail.TryLink(resource.HostPath, host) == Libc.EXDEV)
        {
            File.WriteAllBytes(host, []);
            BoundFiles.Add(resource);
        }

        if (resource.Writable)
        {
            LibcJail.ChangeOwner(resource.HostPath, uid, gid);
        }
    }
}
