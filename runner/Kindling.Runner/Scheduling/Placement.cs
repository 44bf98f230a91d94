using Kindling.Runner.Jobs;

namespace Kindling.Runner.Scheduling;

/// <summary>
/// Where a job should run in a fleet: on the live host with the most room for VMs of its size. Each host admits for
/// itself, so a host that is not the roomiest leaves the job to the roomier one, unless the job has waited longer
/// than the grace (the roomier host may be slow, or about to be declared dead).
/// </summary>
public static class Placement
{
    /// <summary>How many more VMs of <paramref name="vcpus"/>/<paramref name="memoryMib"/> fit on a host with this capacity and these live jobs.</summary>
    public static int FreeSlots(int vcpuLimit, int memoryMib, IEnumerable<JobRecord> liveOnHost, int vcpus, int memoryMib2)
    {
        ArgumentNullException.ThrowIfNull(liveOnHost);
        int usedV = 0, usedM = 0;
        foreach (JobRecord j in liveOnHost)
        {
            usedV += j.Vcpus;
            usedM += j.MemoryMib;
        }

        return Math.Max(0, Math.Min((vcpuLimit - usedV) / Math.Max(1, vcpus), (memoryMib - usedM) / Math.Max(1, memoryMib2)));
    }

    /// <summary>
    /// The admitted jobs this host keeps, in order: each while this host has at least as many free slots for it as
    /// any other host (counting what it keeps before it), or when the job has waited at least <paramref name="grace"/>.
    /// </summary>
    public static IEnumerable<Demand> Prefer(
        IEnumerable<Demand> admitted, HostRecord me, IReadOnlyList<HostRecord> others, IReadOnlyList<JobRecord> live,
        Func<long, TimeSpan> waited, TimeSpan grace)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(me);
        List<JobRecord> mine = [.. live.Where(j => j.Host == me.Name)];
        foreach (Demand d in admitted)
        {
            int myFree = FreeSlots(me.Vcpus, me.MemoryMib, mine, d.Vcpus, d.MemoryMib);
            int best = others.Count == 0 ? 0 : others.Max(h => FreeSlots(h.Vcpus, h.MemoryMib, live.Where(j => j.Host == h.Name), d.Vcpus, d.MemoryMib));
            if (myFree >= best || waited(d.JobId) >= grace)
            {
                mine.Add(new JobRecord
                {
                    Id = d.JobId, Tenant = d.Tenant, Forge = "", ForgeJobId = "", Repository = "", Name = "", Labels = [],
                    State = JobState.Preparing, Attempt = 1, CreatedAt = default, UpdatedAt = default,
                    Vcpus = d.Vcpus, MemoryMib = d.MemoryMib, Host = me.Name,
                });
                yield return d;
            }
        }
    }
}
