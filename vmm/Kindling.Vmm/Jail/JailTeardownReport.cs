namespace Kindling.Vmm.Jail;

/// <summary>What <see cref="JailTeardown.Destroy"/> found and removed, for the runner's log and its checks.</summary>
public sealed record JailTeardownReport
{
    public required string Id { get; init; }

    public IReadOnlyList<int> KilledPids { get; init; } = [];

    public IReadOnlyList<string> CgroupsRemoved { get; init; } = [];

    /// <summary>The jail folder removed, or null when there was none.</summary>
    public string? ChrootRemoved { get; init; }

    public int FilesRemoved { get; init; }

    public IReadOnlyList<string> Unmounted { get; init; } = [];

    public IReadOnlyList<string> FifosAndSocketsUnlinked { get; init; } = [];

    public string? TapDeleted { get; init; }

    /// <summary>Whatever was still there after teardown (empty when teardown is complete).</summary>
    public IReadOnlyList<string> Leftovers { get; init; } = [];

    public bool FoundAnything => KilledPids.Count > 0 || CgroupsRemoved.Count > 0 || ChrootRemoved is not null || TapDeleted is not null;
}
