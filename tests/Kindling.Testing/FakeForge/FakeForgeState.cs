namespace Kindling.Testing.FakeForge;

public sealed class FakeRun
{
    public required long Id { get; init; }
    public required string Repository { get; init; }
    public required long RepositoryId { get; init; }
    public string WorkflowName { get; init; } = "CI";
    public string HeadSha { get; init; } = "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d";
    public string Status { get; set; } = "queued";
    public string? Conclusion { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class FakeJob
{
    public required long Id { get; init; }
    public required long RunId { get; init; }
    public required string Repository { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public string WorkflowName { get; init; } = "CI";
    public string HeadSha { get; init; } = "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d";
    public string Status { get; set; } = "queued";
    public string? Conclusion { get; set; }
    public long? RunnerId { get; set; }
    public string? RunnerName { get; set; }
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The conclusion the job's steps reach when a runner runs it (the runner reports it at the end).</summary>
    public string PlannedConclusion { get; set; } = "success";

    /// <summary>Every status the job has had, in order (starts with <c>queued</c>).</summary>
    public List<string> StatusHistory { get; } = ["queued"];
}

public sealed class FakeRunner
{
    public required long Id { get; init; }
    public required string Name { get; init; }
    /// <summary><c>repos/OWNER/REPO</c> or <c>orgs/ORG</c>.</summary>
    public required string Scope { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required string EncodedJitConfig { get; init; }
    /// <summary>The credential inside its JIT config with which the runner calls the fake's runner service.</summary>
    public string Secret { get; init; } = "";
    public string Status { get; set; } = "offline";
    public bool Busy { get; set; }
}
