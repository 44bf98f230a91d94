namespace Kindling.Runner.Scheduling;

/// <summary>A queued job asking for a VM of this size (of <paramref name="Pool"/>, whose warm slots it may take).</summary>
public readonly record struct Demand(long JobId, string Tenant, int Vcpus, int MemoryMib, string? Pool = null);

/// <summary>What a tenant (or the host) has committed right now.</summary>
public readonly record struct Usage(int Vms, int Vcpus, int MemoryMib)
{
    public static Usage Zero => default;
    public Usage Add(Demand d) => new(Vms + 1, Vcpus + d.Vcpus, MemoryMib + d.MemoryMib);
}

/// <summary>A tenant's quota and fair-share weight.</summary>
public sealed record TenantShare(string Name, int MaxVms, int Vcpus, int MemoryMib, double Weight)
{
    public bool Fits(Usage u, Demand d) => u.Vms + 1 <= MaxVms && u.Vcpus + d.Vcpus <= Vcpus && u.MemoryMib + d.MemoryMib <= MemoryMib;
}

/// <summary>The host: vCPUs may be oversubscribed by a factor, memory may not.</summary>
public sealed record HostCapacity(int Vcpus, int MemoryMib, double Oversubscription)
{
    public int VcpuLimit => (int)Math.Floor(Vcpus * Oversubscription);
    public bool Fits(Usage u, Demand d) => u.Vcpus + d.Vcpus <= VcpuLimit && u.MemoryMib + d.MemoryMib <= MemoryMib;
}
