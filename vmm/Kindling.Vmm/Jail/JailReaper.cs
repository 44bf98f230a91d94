namespace Kindling.Vmm.Jail;

/// <summary>
/// Finds jails whose top process died (the runner or the VMM was killed) and destroys them: ids come from the
/// chroot base and from the cgroup tree, so a jail cut off half-built is found from either side.
/// </summary>
public static class JailReaper
{
    /// <summary>A jail without a recorded owner is left alone this long (it may be being built right now).</summary>
    public static readonly TimeSpan BuildGrace = TimeSpan.FromSeconds(60);

    /// <summary>Destroys every ownerless jail; returns the teardown reports.</summary>
    public static IReadOnlyList<JailTeardownReport> Reap(string chrootBase, string cgroupRoot = "/sys/fs/cgroup", TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        List<JailTeardownReport> reports = [];
        foreach (string id in FindIds(chrootBase, cgroupRoot))
        {
            JailPaths paths = new(id, Path.GetFullPath(chrootBase));
            JailState? state = JailState.TryRead(paths.StateFile);
            if (state is { OwnerPid: > 0 } && ProcFs.IsAlive(state.OwnerPid, state.OwnerStartTicks))
            {
                continue;
            }

            if (state is null or { OwnerPid: 0 } && YoungestAge(paths, new JailCgroup(cgroupRoot, id), time) < BuildGrace)
            {
                continue; // no owner recorded yet: it may be being built or started right now
            }

            if (state is null && !Directory.Exists(paths.JailDir) && JailTeardown.JailProcesses(id).Count > 0)
            {
                continue; // a cgroup with live tasks and no jail under this base belongs to a jail elsewhere
            }

            reports.Add(JailTeardown.Destroy(id, chrootBase, cgroupRoot));
        }

        return reports;
    }

    /// <summary>Ids that have a jail folder under the chroot base or a cgroup under any controller.</summary>
    public static IReadOnlyList<string> FindIds(string chrootBase, string cgroupRoot = "/sys/fs/cgroup")
    {
        SortedSet<string> ids = new(StringComparer.Ordinal);
        AddValid(ids, Path.Combine(chrootBase, JailPaths.ExecName));
        AddValid(ids, Path.Combine(cgroupRoot, JailPaths.CgroupParent));
        foreach (string controller in JailCgroup.V1Controllers)
        {
            AddValid(ids, Path.Combine(cgroupRoot, controller, JailPaths.CgroupParent));
        }

        return [.. ids];
    }

    private static TimeSpan YoungestAge(JailPaths paths, JailCgroup cgroup, TimeProvider time)
    {
        DateTime now = time.GetUtcNow().UtcDateTime;
        return cgroup.Directories.Append(paths.JailDir).Where(Directory.Exists)
            .Select(d => now - Directory.GetLastWriteTimeUtc(d))
            .DefaultIfEmpty(TimeSpan.MaxValue)
            .Min();
    }

    private static void AddValid(SortedSet<string> ids, string dir)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (string sub in Directory.EnumerateDirectories(dir))
        {
            string name = Path.GetFileName(sub);
            if (JailId.Problem(name) is null)
            {
                ids.Add(name);
            }
        }
    }
}
