using System.Text.Json.Nodes;

namespace Kindling.Testing.FakeForge;

/// <summary>JSON objects in the shapes of GitHub's OpenAPI schemas (every required property present).</summary>
internal static class GitHubShapes
{
    private static readonly string[] RepoUrlFields =
    [
        "archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url", "commits_url",
        "compare_url", "contents_url", "contributors_url", "deployments_url", "downloads_url", "events_url", "forks_url",
        "git_commits_url", "git_refs_url", "git_tags_url", "hooks_url", "issue_comment_url", "issue_events_url",
        "issues_url", "keys_url", "labels_url", "languages_url", "merges_url", "milestones_url", "notifications_url",
        "pulls_url", "releases_url", "stargazers_url", "statuses_url", "subscribers_url", "subscription_url", "tags_url",
        "teams_url", "trees_url",
    ];

    private static readonly string[] UserUrlFields =
    [
        "events_url", "followers_url", "following_url", "gists_url", "organizations_url", "received_events_url",
        "repos_url", "starred_url", "subscriptions_url",
    ];

    public static JsonObject User(string api, string login, long id)
    {
        var o = new JsonObject
        {
            ["login"] = login, ["id"] = id, ["node_id"] = $"U_{id}", ["avatar_url"] = $"https://avatars.example/{login}",
            ["gravatar_id"] = "", ["url"] = $"{api}/users/{login}", ["html_url"] = $"https://github.example/{login}",
            ["type"] = "Organization", ["site_admin"] = false,
        };
        foreach (string f in UserUrlFields)
        {
            o[f] = $"{api}/users/{login}/{f[..^4]}";
        }

        return o;
    }

    public static JsonObject Repository(string api, string fullName, long id)
    {
        string owner = fullName.Split('/')[0];
        var o = new JsonObject
        {
            ["id"] = id, ["node_id"] = $"R_{id}", ["name"] = fullName.Split('/')[1], ["full_name"] = fullName,
            ["private"] = true, ["owner"] = User(api, owner, id + 1_000_000), ["html_url"] = $"https://github.example/{fullName}",
            ["description"] = null, ["fork"] = false, ["url"] = $"{api}/repos/{fullName}",
        };
        foreach (string f in RepoUrlFields)
        {
            o[f] = $"{api}/repos/{fullName}/{f[..^4]}";
        }

        return o;
    }

    public static JsonObject Run(string api, FakeRun run)
    {
        string repoUrl = $"{api}/repos/{run.Repository}";
        return new JsonObject
        {
            ["id"] = run.Id, ["name"] = run.WorkflowName, ["node_id"] = $"WFR_{run.Id}", ["head_branch"] = "main",
            ["head_sha"] = run.HeadSha, ["path"] = ".github/workflows/ci.yml", ["display_title"] = run.WorkflowName,
            ["run_number"] = run.Id % 1000, ["event"] = "push", ["status"] = run.Status, ["conclusion"] = run.Conclusion,
            ["workflow_id"] = 161335, ["url"] = $"{repoUrl}/actions/runs/{run.Id}",
            ["html_url"] = $"https://github.example/{run.Repository}/actions/runs/{run.Id}", ["pull_requests"] = new JsonArray(),
            ["created_at"] = run.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"), ["updated_at"] = run.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["jobs_url"] = $"{repoUrl}/actions/runs/{run.Id}/jobs", ["logs_url"] = $"{repoUrl}/actions/runs/{run.Id}/logs",
            ["check_suite_url"] = $"{repoUrl}/check-suites/{run.Id}", ["artifacts_url"] = $"{repoUrl}/actions/runs/{run.Id}/artifacts",
            ["cancel_url"] = $"{repoUrl}/actions/runs/{run.Id}/cancel", ["rerun_url"] = $"{repoUrl}/actions/runs/{run.Id}/rerun",
            ["workflow_url"] = $"{repoUrl}/actions/workflows/161335",
            ["head_commit"] = new JsonObject
            {
                ["id"] = run.HeadSha, ["tree_id"] = run.HeadSha, ["message"] = "fake commit",
                ["timestamp"] = run.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
                ["author"] = new JsonObject { ["name"] = "dev", ["email"] = "dev@example.com" },
                ["committer"] = new JsonObject { ["name"] = "dev", ["email"] = "dev@example.com" },
            },
            ["repository"] = Repository(api, run.Repository, run.RepositoryId),
            ["head_repository"] = Repository(api, run.Repository, run.RepositoryId),
        };
    }

    public static JsonObject Job(string api, FakeJob job)
    {
        string repoUrl = $"{api}/repos/{job.Repository}";
        return new JsonObject
        {
            ["id"] = job.Id, ["run_id"] = job.RunId, ["run_url"] = $"{repoUrl}/actions/runs/{job.RunId}", ["run_attempt"] = 1,
            ["node_id"] = $"CR_{job.Id}", ["head_sha"] = job.HeadSha, ["url"] = $"{repoUrl}/actions/jobs/{job.Id}",
            ["html_url"] = $"https://github.example/{job.Repository}/actions/runs/{job.RunId}/job/{job.Id}",
            ["status"] = job.Status, ["conclusion"] = job.Conclusion,
            ["created_at"] = job.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["started_at"] = job.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["completed_at"] = job.Status == "completed" ? job.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ") : null,
            ["name"] = job.Name, ["steps"] = new JsonArray(), ["check_run_url"] = $"{repoUrl}/check-runs/{job.Id}",
            ["labels"] = new JsonArray([.. job.Labels.Select(l => (JsonNode)JsonValue.Create(l))]),
            ["runner_id"] = job.RunnerId, ["runner_name"] = job.RunnerName,
            ["runner_group_id"] = job.RunnerId is null ? null : 1, ["runner_group_name"] = job.RunnerId is null ? null : "Default",
            ["workflow_name"] = job.WorkflowName, ["head_branch"] = "main",
        };
    }

    public static JsonObject Runner(FakeRunner r) => new()
    {
        ["id"] = r.Id, ["name"] = r.Name, ["os"] = "linux", ["status"] = r.Status, ["busy"] = r.Busy,
        ["labels"] = new JsonArray([.. r.Labels.Select((l, i) => (JsonNode)new JsonObject
        {
            ["id"] = i + 1, ["name"] = l, ["type"] = "custom",
        })]),
    };
}
