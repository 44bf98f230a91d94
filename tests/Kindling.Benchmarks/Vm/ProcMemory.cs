using System.Globalization;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// A process's memory from /proc: RssAnon/RssShmem/RssFile (status), Private_Dirty (smaps_rollup), and how much of
/// the guest RAM mapping is resident (smaps: the one anonymous mapping of guest-RAM size), in KiB.
/// </summary>
internal sealed record ProcMemory(long RssAnonKb, long RssShmemKb, long RssFileKb, long PrivateDirtyKb, long GuestTouchedKb, int GuestMappings)
{
    /// <summary>The figure: RssAnon minus the guest RAM actually touched.</summary>
    public long AnonOverheadKb => RssAnonKb - GuestTouchedKb;

    /// <summary>
    /// Everything private to the VMM that is not guest RAM: RssAnon plus RssShmem (the .NET runtime's W^X
    /// double-mapping of JIT'd code and stubs is a memfd, so it is counted as shmem, but it is this process's alone).
    /// </summary>
    public long PrivateOverheadKb => RssAnonKb + RssShmemKb - GuestTouchedKb;

    public static ProcMemory Read(int pid, long guestBytes)
    {
        Dictionary<string, long> status = [];
        foreach (string line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            string[] kv = line.Split(':', 2);
            if (kv.Length == 2 && kv[1].TrimEnd().EndsWith(" kB", StringComparison.Ordinal))
            {
                status[kv[0]] = Kb(kv[1]);
            }
        }

        long privateDirty = 0;
        foreach (string line in File.ReadAllLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
            {
                privateDirty = Kb(line.Split(':', 2)[1]);
            }
        }

        // Guest RAM: an anonymous rw mapping (no path) whose size is the guest's RAM, give or take a neighbour the
        // kernel merged into the same VMA (up to 8 MiB).
        long guestKb = guestBytes / 1024, touched = 0;
        int mappings = 0;
        bool candidate = false;
        foreach (string line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            if (IsHeader(line, out bool anonymous))
            {
                candidate = anonymous;
            }
            else if (candidate && line.StartsWith("Size:", StringComparison.Ordinal))
            {
                long size = Kb(line[5..]);
                candidate = size >= guestKb && size <= guestKb + 8192;
            }
            else if (candidate && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                touched += Kb(line[10..]);
                mappings++;
                candidate = false;
            }
        }

        return new ProcMemory(status.GetValueOrDefault("RssAnon"), status.GetValueOrDefault("RssShmem"), status.GetValueOrDefault("RssFile"),
            privateDirty, touched, mappings);
    }

    /// <summary>"start-end perms offset dev inode [path]"; anonymous = rw-p, inode 0 and no path.</summary>
    private static bool IsHeader(string line, out bool anonymous)
    {
        string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        bool header = parts.Length >= 5 && !parts[0].EndsWith(':') && parts[0].Contains('-', StringComparison.Ordinal);
        anonymous = header && parts.Length == 5 && parts[1] == "rw-p" && parts[4] == "0";
        return header;
    }

    private static long Kb(string value) =>
        long.Parse(value.Trim().Split(' ')[0], NumberStyles.Integer, CultureInfo.InvariantCulture);
}
