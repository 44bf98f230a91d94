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
}

public sealed class FakeRunner
{
    public required long Id { get; init; }
    public required string Name { get; init; }
    /// <summary><c>repos/OWNER/REPO</c> or <c>orgs/ORG</c>.</summary>
    public required string Scope { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required string EncodedJitConfig { get; init; }
    public string Status { get; set; } = "offline";
    public bool Busy { get; set; }
}
