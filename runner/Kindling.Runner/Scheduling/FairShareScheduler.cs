namespace Kindling.Runner.Scheduling;

/// <summary>
/// Admission: weighted fair share across tenants by dominant resource share (DRF). Each round admits the head
/// job of the tenant whose largest share of the host (vCPUs or memory), divided by its weight, is smallest —
/// as long as the job fits that tenant's quota and the host's capacity. Jobs of one tenant start in queue order.
/// A tenant whose next job does not fit is passed over (smaller jobs of others may still fit). Equal shares go to the
/// tenant admitted least recently (then the oldest head job): without it the tenant whose jobs were queued first
/// wins every tie, and two equal tenants contending for an odd number of slots split them 4:3 for as long as both
/// have work. A job of a pool with a ready warm slot (<paramref name="readySlots"/> of <see cref="Admit"/>) takes that
/// slot's place on the host, whose usage already counts it: it is checked against its tenant's quota only. Pure: the caller owns the usage and admission history it passes in and applies the admissions it gets back.
/// </summary>
public sealed class FairShareScheduler(HostCapacity host, IReadOnlyDictionary<string, TenantShare> tenants)
{
    public HostCapacity Host => host;

    /// <param name="running">What each tenant runs now (in a fleet: on every host, so quotas and shares are fleet-wide).</param>
    /// <param name="hostRunning">What this host runs now, checked against its capacity; default: the sum of <paramref name="running"/>.</param>
    /// <param name="lastAdmitted">Each tenant's latest admission as an increasing number (absent: never), for ties.</param>
    /// <param name="readySlots">Per pool, warm slots ready and unclaimed, whose VMs <paramref name="hostRunning"/> counts already.</param>
    public IReadOnlyList<Demand> Admit(IEnumerable<Demand> queue, IReadOnlyDictionary<string, Usage> running, Usage? hostRunning = null,
        IReadOnlyDictionary<string, long>? lastAdmitted = null, IReadOnlyDictionary<string, int>? readySlots = null)
    {
        Dictionary<string, int> slots = readySlots is null ? [] : new(readySlots, StringComparer.Ordinal);
        var perTenant = new Dictionary<string, Queue<Demand>>(StringComparer.Ordinal);
        foreach (Demand d in queue)
        {
            if (!tenants.ContainsKey(d.Tenant))
            {
                continue; // a tenant removed from config keeps its queued jobs until it comes back
            }

            if (!perTenant.TryGetValue(d.Tenant, out Queue<Demand>? q))
            {
                perTenant[d.Tenant] = q = new Queue<Demand>();
            }

            q.Enqueue(d);
        }

        var usage = new Dictionary<string, Usage>(StringComparer.Ordinal);
        Usage hostUsage = Usage.Zero;
        foreach ((string t, Usage u) in running)
        {
            usage[t] = u;
            hostUsage = new Usage(hostUsage.Vms + u.Vms, hostUsage.Vcpus + u.Vcpus, hostUsage.MemoryMib + u.MemoryMib);
        }

        hostUsage = hostRunning ?? hostUsage;

        var order = new PriorityQueue<string, (double Share, long LastAdmitted, long HeadJob)>();
        foreach ((string t, Queue<Demand> q) in perTenant)
        {
            order.Enqueue(t, (Share(t, usage.GetValueOrDefault(t)), lastAdmitted?.GetValueOrDefault(t, long.MinValue) ?? long.MinValue, q.Peek().JobId));
        }

        long round = lastAdmitted is { Count: > 0 } ? lastAdmitted.Values.Max() : 0; // admissions of this round are the latest

        List<Demand> admitted = [];
        while (order.TryDequeue(out string? tenant, out _))
        {
            Queue<Demand> q = perTenant[tenant];
            Demand head = q.Peek();
            Usage mine = usage.GetValueOrDefault(tenant);
            bool slot = head.Pool is { } pool && slots.GetValueOrDefault(pool) > 0;
            if (!tenants[tenant].Fits(mine, head) || (!slot && !host.Fits(hostUsage, head)))
            {
                continue; // this tenant waits for this round
            }

            q.Dequeue();
            admitted.Add(head);
            mine = mine.Add(head);
            usage[tenant] = mine;
            if (slot)
            {
                slots[head.Pool!]--; // the job's VM is the slot's, already counted on the host
            }
            else
            {
                hostUsage = hostUsage.Add(head);
            }
            if (q.Count > 0)
            {
                order.Enqueue(tenant, (Share(tenant, mine), ++round, q.Peek().JobId));
            }
        }

        return admitted;
    }

    private double Share(string tenant, Usage u) =>
        Math.Max((double)u.Vcpus / host.VcpuLimit, (double)u.MemoryMib / host.MemoryMib) / tenants[tenant].Weight;
}
