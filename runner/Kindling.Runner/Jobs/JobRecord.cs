namespace Kindling.Runner.Jobs;

/// <summary>One row of the <c>jobs</c> table.</summary>
public sealed record JobRecord
{
    public required long Id { get; init; }
    public required string Tenant { get; init; }
    /// <summary>Forge kind ("github", "local").</summary>
    public required string Forge { get; init; }
    /// <summary>The forge's own job id: the idempotency key (one VM per forge job).</summary>
    public required string ForgeJobId { get; init; }
    public required string Repository { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required JobState State { get; init; }
    public required int Attempt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public string? SpecJson { get; init; }
    public string? RunnerName { get; init; }
    public long? RunnerId { get; init; }
    public string? VmId { get; init; }
    public int? VmmPid { get; init; }
    public string? WorkDir { get; init; }
    public string? TapName { get; init; }
    public int? ExitCode { get; init; }
    public string? LogPath { get; init; }
    public int Vcpus { get; init; }
    public int MemoryMib { get; init; }
    /// <summary>The host that admitted the job and holds it (null while queued).</summary>
    public string? Host { get; init; }
}

/// <summary>A job as first seen on a forge.</summary>
public sealed record NewJob
{
    public required string Tenant { get; init; }
    public required string Forge { get; init; }
    public required string ForgeJobId { get; init; }
    public required string Repository { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public string? SpecJson { get; init; }
    public int Vcpus { get; init; } = 1;
    public int MemoryMib { get; init; } = 512;
}

/// <summary>One row of the <c>transitions</c> table.</summary>
public sealed record JobTransition(long JobId, JobState? From, JobState To, DateTimeOffset At, string Reason);

/// <summary>Host resources a job holds; recorded before they are created, so the reaper can find them after a crash.</summary>
public sealed record JobResources
{
    public string? RunnerName { get; init; }
    public long? RunnerId { get; init; }
    public string? VmId { get; init; }
    public int? VmmPid { get; init; }
    public string? WorkDir { get; init; }
    public string? TapName { get; init; }
    public string? LogPath { get; init; }
}

/// <summary>
/// A step as parsed from the guest's serial framing: its exit code and duration (the guest's clock), when the runner
/// read its start and end (the host's clock), and its outcome (<see cref="StepResults"/>; null while it runs).
/// </summary>
public sealed record StepRecord(int Number, string Name, int? ExitCode, double? Seconds, bool Skipped,
    DateTimeOffset? StartedAt = null, DateTimeOffset? EndedAt = null, string? Outcome = null);

/// <summary>How a step ended, as <see cref="StepRecord.Outcome"/> says it.</summary>
public static class StepResults
{
    public const string Success = "success";
    public const string Failure = "failure";
    /// <summary>The job's cancellation ended it (the agent stopped its processes).</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Its own timeout ended it.</summary>
    public const string TimedOut = "timed-out";
    public const string Skipped = "skipped";
}
