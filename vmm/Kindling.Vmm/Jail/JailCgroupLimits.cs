namespace Kindling.Vmm.Jail;

/// <summary>The cgroup limits of one jail. Null fields leave the controller's default (no limit).</summary>
public sealed record JailCgroupLimits
{
    /// <summary>CPU bandwidth: <see cref="CpuQuotaMicros"/> per <see cref="CpuPeriodMicros"/> (cfs quota).</summary>
    public long? CpuQuotaMicros { get; init; }

    public long CpuPeriodMicros { get; init; } = 100_000;

    /// <summary>Memory limit in bytes (guest RAM plus the VMM's own heap).</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>Maximum number of tasks (threads count): the runtime's threads plus one per vCPU.</summary>
    public long? PidsMax { get; init; }

    /// <summary>CPUs the jail may run on ("0-1"); null inherits the parent's set.</summary>
    public string? Cpus { get; init; }
}
