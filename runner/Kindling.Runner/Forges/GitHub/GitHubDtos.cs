using System.Text.Json.Serialization;

namespace Kindling.Runner.Forges.GitHub;

// The parts of GitHub's REST shapes (api.github.com OpenAPI description) the runner reads or sends. Unknown
// members are ignored: GitHub adds fields over time.

public sealed record WorkflowRunList(int TotalCount, IReadOnlyList<WorkflowRun> WorkflowRuns);

public sealed record WorkflowRun(long Id, string? Name, string Status, string? Conclusion, long RunNumber, string HeadSha, string? HeadBranch);

public sealed record WorkflowJobList(int TotalCount, IReadOnlyList<WorkflowJob> Jobs);

public sealed record WorkflowJob(
    long Id,
    long RunId,
    string Name,
    string Status,
    string? Conclusion,
    IReadOnlyList<string> Labels,
    long? RunnerId,
    string? RunnerName,
    string? WorkflowName,
    string? HeadBranch,
    DateTimeOffset? CreatedAt);

public sealed record JitConfigRequest(string Name, long RunnerGroupId, IReadOnlyList<string> Labels, string? WorkFolder);

public sealed record JitConfigResponse(GitHubRunner Runner, string EncodedJitConfig);

public sealed record GitHubRunner(long Id, string Name, string Os, string Status, bool Busy, IReadOnlyList<GitHubRunnerLabel> Labels);

public sealed record GitHubRunnerLabel(long? Id, string Name, string? Type);

public sealed record RunnerList(int TotalCount, IReadOnlyList<GitHubRunner> Runners);

/// <summary>A registration or remove token (<c>authentication-token</c>).</summary>
public sealed record AuthenticationToken(string Token, DateTimeOffset ExpiresAt);

/// <summary>An App installation access token (<c>installation-token</c>).</summary>
public sealed record InstallationToken(string Token, DateTimeOffset ExpiresAt);

/// <summary>The <c>workflow_job</c> webhook payload (the parts used).</summary>
public sealed record WorkflowJobEvent(string Action, WorkflowJob WorkflowJob, WebhookRepository Repository);

public sealed record WebhookRepository(long Id, string FullName);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkflowRunList))]
[JsonSerializable(typeof(WorkflowJobList))]
[JsonSerializable(typeof(WorkflowJob))]
[JsonSerializable(typeof(JitConfigRequest))]
[JsonSerializable(typeof(JitConfigResponse))]
[JsonSerializable(typeof(GitHubRunner))]
[JsonSerializable(typeof(RunnerList))]
[JsonSerializable(typeof(AuthenticationToken))]
[JsonSerializable(typeof(InstallationToken))]
[JsonSerializable(typeof(WorkflowJobEvent))]
public sealed partial class GitHubJson : JsonSerializerContext;
