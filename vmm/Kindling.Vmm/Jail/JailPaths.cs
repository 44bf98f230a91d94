namespace Kindling.Vmm.Jail;

/// <summary>Where a jail's pieces live on the host.</summary>
public sealed record JailPaths(string Id, string ChrootBase)
{
    /// <summary>Folder under the chroot base that holds every jail of ours.</summary>
    public const string ExecName = "kindling-vmm";

    /// <summary>The cgroup folder name under each controller (v1) or the unified root (v2).</summary>
    public const string CgroupParent = "kindling";

    /// <summary>State file next to root/ (outside the chroot): owner pid, TAP, cgroups.</summary>
    public const string StateFileName = "jail.json";

    public string JailDir => Path.Combine(ChrootBase, ExecName, Id);

    public string RootDir => Path.Combine(JailDir, "root");

    public string StateFile => Path.Combine(JailDir, StateFileName);

    /// <summary>The host path of <paramref name="jailPath"/> (absolute inside the jail).</summary>
    public string HostPathOf(string jailPath)
    {
        if (!jailPath.StartsWith('/') || jailPath.Split('/').Any(part => part is ".." or "."))
        {
            throw new JailException($"jail path '{jailPath}' must be absolute and must not contain '.' or '..'");
        }

        return RootDir + jailPath.TrimEnd('/');
    }
}
