namespace Kindling.Runner.Jobs;

/// <summary>What a daemon tells the fleet about itself when it starts.</summary>
public sealed record HostRegistration(string Name, int Vcpus, int MemoryMib, string Version, IReadOnlyList<string> Labels);

/// <summary>One row of the <c>hosts</c> table.</summary>
/// <param name="State"><see cref="HostStates"/>: live, dead (silent past its lease, being taken over) or gone.</param>
/// <param name="DrainedBy">Who drained the host through the store ("admin at …"); null when it takes jobs.</param>
public sealed record HostRecord(
    string Name, int Vcpus, int MemoryMib, string Version, IReadOnlyList<string> Labels, string State,
    DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt, string? Detail, string? DrainedBy);

/// <summary>The states of a host of the fleet.</summary>
public static class HostStates
{
    /// <summary>Heartbeating; admits jobs unless drained.</summary>
    public const string Live = "live";

    /// <summary>Silent for longer than its lease: a live host is taking over its jobs.</summary>
    public const string Dead = "dead";

    /// <summary>Taken over: none of its jobs is left; it becomes live again when it comes back.</summary>
    public const string Gone = "gone";

    /// <summary>Stopped on purpose (its daemon shut down cleanly).</summary>
    public const string Stopped = "stopped";
}
