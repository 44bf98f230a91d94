using System.Globalization;

namespace Kindling.Vmm.Jail;

/// <summary>
/// One jail's cgroup: <c>&lt;root&gt;/&lt;controller&gt;/kindling/&lt;id&gt;</c> for each v1 controller (cpu, memory,
/// pids, cpuset), or <c>&lt;root&gt;/kindling/&lt;id&gt;</c> on the v2 unified hierarchy (detected by
/// cgroup.controllers at the root).
/// </summary>
public sealed class JailCgroup
{
    public static readonly IReadOnlyList<string> V1Controllers = ["cpu", "memory", "pids", "cpuset"];

    private const string ProcsFile = "cgroup.procs";

    public JailCgroup(string cgroupRoot, string id)
    {
        Root = cgroupRoot;
        Id = id;
        IsV2 = File.Exists(Path.Combine(cgroupRoot, "cgroup.controllers"));
        Directories = IsV2
            ? [Path.Combine(cgroupRoot, JailPaths.CgroupParent, id)]
            : [.. V1Controllers.Select(c => Path.Combine(cgroupRoot, c, JailPaths.CgroupParent, id))];
    }

    public string Root { get; }

    public string Id { get; }

    public bool IsV2 { get; }

    /// <summary>The jail's cgroup folders (one per controller on v1).</summary>
    public IReadOnlyList<string> Directories { get; }

    /// <summary>The cgroup.procs files a process writes itself into to join the jail's cgroup.</summary>
    public IReadOnlyList<string> ProcsFiles => [.. Directories.Select(d => Path.Combine(d, ProcsFile))];

    public bool Exists => Directories.Any(Directory.Exists);

    /// <summary>Creates the folders and writes the limits. Throws if the cgroup already exists.</summary>
    public void Create(JailCgroupLimits limits)
    {
        if (Exists)
        {
            throw new JailException($"cgroup {Directories.First(Directory.Exists)} already exists: another jail uses id '{Id}'; destroy it first (kindling-vmm jail --destroy --id {Id}) or pick another id");
        }

        if (IsV2)
        {
            CreateV2(limits);
        }
        else
        {
            CreateV1(limits);
        }
    }

    /// <summary>Pids (in this process's pid namespace) of every process in the jail's cgroup.</summary>
    public IReadOnlyList<int> Processes()
    {
        HashSet<int> pids = [];
        foreach (string file in ProcsFiles)
        {
            try
            {
                foreach (string line in File.ReadAllLines(file))
                {
                    if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                    {
                        pids.Add(pid);
                    }
                }
            }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
            {
                // This controller's folder is already gone.
            }
        }

        return [.. pids];
    }

    /// <summary>How long <see cref="Remove"/> waits for killed tasks to leave the cgroup (they exit asynchronously).</summary>
    public static readonly TimeSpan RemoveTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Removes the folders (the cgroup must be empty, or emptying: a SIGKILLed task stays a member until the kernel
    /// has reaped it, and rmdir answers EBUSY until then). Returns the folders removed.
    /// </summary>
    public IReadOnlyList<string> Remove()
    {
        List<string> removed = [];
        long deadline = Environment.TickCount64 + (long)RemoveTimeout.TotalMilliseconds;
        foreach (string dir in Directories.Where(Directory.Exists))
        {
            while (true)
            {
                try
                {
                    Directory.Delete(dir);
                    break;
                }
                catch (IOException) when (Environment.TickCount64 < deadline && Directory.Exists(dir))
                {
                    Thread.Sleep(10);
                }
            }

            removed.Add(dir);
        }

        return removed;
    }

    private void CreateV1(JailCgroupLimits limits)
    {
        List<string> created = [];
        try
        {
            foreach (string controller in V1Controllers)
            {
                string controllerRoot = Path.Combine(Root, controller);
                if (!Directory.Exists(controllerRoot))
                {
                    throw new JailException($"cgroup v1 controller '{controller}' is not mounted at {controllerRoot}; mount it (mount -t cgroup -o {controller} cgroup {controllerRoot})");
                }

                string parent = Path.Combine(controllerRoot, JailPaths.CgroupParent);
                if (!Directory.Exists(parent))
                {
                    Directory.CreateDirectory(parent);
                    if (controller == "cpuset")
                    {
                        InheritCpuset(controllerRoot, parent);
                    }
                }

                string dir = Path.Combine(parent, Id);
                Directory.CreateDirectory(dir);
                created.Add(dir);
                switch (controller)
                {
                    case "cpu" when limits.CpuQuotaMicros is { } quota:
                        Write(dir, "cpu.cfs_period_us", limits.CpuPeriodMicros);
                        Write(dir, "cpu.cfs_quota_us", quota);
                        break;
                    case "memory" when limits.MemoryBytes is { } memory:
                        Write(dir, "memory.limit_in_bytes", memory);
                        break;
                    case "pids" when limits.PidsMax is { } pids:
                        Write(dir, "pids.max", pids);
                        break;
                    case "cpuset":
                        // A v1 cpuset with empty cpus/mems refuses tasks: copy the parent's unless limited.
                        InheritCpuset(parent, dir);
                        if (limits.Cpus is { } cpus)
                        {
                            File.WriteAllText(Path.Combine(dir, "cpuset.cpus"), cpus);
                        }

                        break;
                }
            }
        }
        catch
        {
            foreach (string dir in Enumerable.Reverse(created))
            {
                Directory.Delete(dir);
            }

            throw;
        }
    }

    private void CreateV2(JailCgroupLimits limits)
    {
        string parent = Path.Combine(Root, JailPaths.CgroupParent);
        Directory.CreateDirectory(parent);
        EnableV2Controllers(Root);
        EnableV2Controllers(parent);
        string dir = Directories[0];
        Directory.CreateDirectory(dir);
        try
        {
            if (limits.CpuQuotaMicros is { } quota)
            {
                File.WriteAllText(Path.Combine(dir, "cpu.max"), $"{quota} {limits.CpuPeriodMicros}");
            }

            if (limits.MemoryBytes is { } memory)
            {
                Write(dir, "memory.max", memory);
            }

            if (limits.PidsMax is { } pids)
            {
                Write(dir, "pids.max", pids);
            }

            if (limits.Cpus is { } cpus)
            {
                File.WriteAllText(Path.Combine(dir, "cpuset.cpus"), cpus);
            }
        }
        catch
        {
            Directory.Delete(dir);
            throw;
        }
    }

    private static void EnableV2Controllers(string dir)
    {
        string available = File.ReadAllText(Path.Combine(dir, "cgroup.controllers"));
        string wanted = string.Join(' ', new[] { "cpu", "memory", "pids", "cpuset" }
            .Where(c => available.Split(' ', StringSplitOptions.TrimEntries).Contains(c))
            .Select(c => "+" + c));
        if (wanted.Length > 0)
        {
            File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), wanted);
        }
    }

    private static void InheritCpuset(string from, string to)
    {
        foreach (string file in new[] { "cpuset.cpus", "cpuset.mems" })
        {
            string value = File.ReadAllText(Path.Combine(from, file)).Trim();
            File.WriteAllText(Path.Combine(to, file), value);
        }
    }

    private static void Write(string dir, string file, long value) =>
        File.WriteAllText(Path.Combine(dir, file), value.ToString(CultureInfo.InvariantCulture));
}
