using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// The <c>github</c>, <c>runner</c> and <c>inputs</c> contexts of a replay, and the GITHUB_*/RUNNER_* variables GitHub's
/// runner sets, from the event file and git. Deterministic for given inputs (run id and number are 1).
/// </summary>
public static class ReplayContexts
{
    public const string ServerUrl = "https://github.com";
    public const string ApiUrl = "https://api.github.com";
    public const string GraphQlUrl = "https://api.github.com/graphql";
    public const string RunId = "1";
    public const string RunNumber = "1";
    public const string RunAttempt = "1";
    public const string RunnerOs = "Linux";
    public const string RunnerArch = "X64";
    public const string RunnerName = "kindling-replay";

    /// <summary>--actor NAME: a user name (act's default is nektos/act), one word; null when not given.</summary>
    public static string? ParseActor(string? actor)
    {
        if (actor is null)
        {
            return null;
        }

        string a = actor.Trim();
        return a.Length > 0 && !a.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) ? a
            : throw new ReplayException($"--actor '{actor}': give a user name for github.actor, without spaces, e.g. --actor octocat");
    }

    public static ExprValue GitHub(Workflow wf, string jobId, ReplayInputs inputs)
    {
        ExprValue ev = inputs.Event;
        if (inputs.EventName == "workflow_dispatch" && (wf.InputDefaults.Count > 0 || inputs.Inputs.Count > 0))
        {
            // GitHub's dispatch payload carries the inputs as strings: the event's own, else the defaults; --input over both.
            List<KeyValuePair<string, ExprValue>> given = Member(ev, "inputs") is { Kind: ExprKind.Object } o
                ? [.. o.Members]
                : [.. wf.InputDefaults.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value.ToString())))];
            foreach ((string k, string v) in inputs.Inputs)
            {
                given.RemoveAll(kv => string.Equals(kv.Key, k, StringComparison.OrdinalIgnoreCase));
                given.Add(KeyValuePair.Create(k, ExprValue.String(v)));
            }

            ev = ExprValue.Object(ev.Members.Where(kv => kv.Key != "inputs").Append(KeyValuePair.Create("inputs", ExprValue.Object(given))));
        }

        ExprValue pr = Member(ev, "pull_request");
        string sha = Str(Member(ev, "after")) ?? Str(Member(Member(pr, "head"), "sha")) ?? inputs.Source.Sha;
        string @ref = Str(Member(ev, "ref"))
                      ?? (Member(pr, "number") is { Kind: ExprKind.Number } n ? $"refs/pull/{n}/merge" : null)
                      ?? inputs.Source.Ref;
        string repository = Str(Member(Member(ev, "repository"), "full_name")) ?? inputs.Source.Repository;
        string actor = inputs.Actor ?? Str(Member(Member(ev, "sender"), "login")) ?? inputs.Source.Actor;
        (string refName, string refType) = RefName(@ref);
        var members = new List<KeyValuePair<string, ExprValue>>
        {
            new("event_name", S(inputs.EventName)),
            new("event", ev),
            new("sha", S(sha)),
            new("ref", S(@ref)),
            new("ref_name", S(refName)),
            new("ref_type", S(refType)),
            new("head_ref", S(Str(Member(Member(pr, "head"), "ref")) ?? "")),
            new("base_ref", S(Str(Member(Member(pr, "base"), "ref")) ?? "")),
            new("repository", S(repository)),
            new("repository_owner", S(repository.Split('/')[0])),
            new("actor", S(actor)),
            new("triggering_actor", S(actor)),
            new("workflow", S(wf.Name)),
            new("workflow_ref", S($"{repository}/.github/workflows/{wf.FileName}@{@ref}")),
            new("job", S(jobId)),
            new("run_id", S(RunId)),
            new("run_number", S(RunNumber)),
            new("run_attempt", S(RunAttempt)),
            new("server_url", S(ServerUrl)),
            new("api_url", S(ApiUrl)),
            new("graphql_url", S(GraphQlUrl)),
            new("workspace", S(ReplayDefaults.GuestWorkspace)),
            new("action", S("__run")),
            new("retention_days", S("90")),
        };
        return ExprValue.Object(members);
    }

    public static ExprValue Runner() => ExprValue.Object(
    [
        new("os", S(RunnerOs)), new("arch", S(RunnerArch)), new("name", S(RunnerName)), new("environment", S("self-hosted")),
        new("temp", S(ReplayDefaults.GuestCommandFileDirectory)), new("tool_cache", S("/opt/hostedtoolcache")), new("debug", S("")),
    ]);

    /// <summary>
    /// workflow_dispatch/workflow_call input defaults, overridden by the event's <c>inputs</c>, then by --input; each
    /// typed as the workflow declares it (a <c>boolean</c> input given as "true" is the boolean true, as on GitHub).
    /// </summary>
    public static ExprValue Inputs(Workflow wf, ReplayInputs inputs, ExprValue? github = null)
    {
        // A default written as an expression (workflow_call allows them: default: ${{ 1 }}) is evaluated with the
        // contexts GitHub gives it there: github and vars.
        var defaultsCtx = new ExprContext
        {
            Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
            {
                ["github"] = github ?? GitHub(wf, "", inputs),
                ["vars"] = ExprValue.Object(inputs.Vars.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value)))),
            },
            Where = $"{wf.FileName}: on.inputs default",
        };
        List<KeyValuePair<string, ExprValue>> values = [.. wf.InputDefaults.Select(kv =>
            kv.Value.Kind == ExprKind.String && Template.HasExpressions(kv.Value.AsString)
                ? KeyValuePair.Create(kv.Key, Template.Evaluate(kv.Value.AsString, defaultsCtx with { Where = $"{wf.FileName}: on.inputs.{kv.Key}.default" }))
                : kv)];
        IEnumerable<KeyValuePair<string, ExprValue>> given = Member(inputs.Event, "inputs") is { Kind: ExprKind.Object } o ? o.Members : [];
        foreach ((string k, ExprValue v) in given.Concat(inputs.Inputs.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value)))))
        {
            values.RemoveAll(kv => string.Equals(kv.Key, k, StringComparison.OrdinalIgnoreCase));
            values.Add(KeyValuePair.Create(k, v));
        }

        return ExprValue.Object(values.Select(kv => KeyValuePair.Create(kv.Key, Typed(kv.Value, wf.InputTypes.GetValueOrDefault(kv.Key)))));
    }

    /// <summary>An input value as its declared type: "true"/"false" for a boolean, a numeral for a number; else as given.</summary>
    internal static ExprValue Typed(ExprValue v, string? type) => (type, v.Kind) switch
    {
        ("boolean", ExprKind.String) when v.AsString.Equals("true", StringComparison.OrdinalIgnoreCase) => ExprValue.True,
        ("boolean", ExprKind.String) when v.AsString.Equals("false", StringComparison.OrdinalIgnoreCase) => ExprValue.False,
        ("number", ExprKind.String) when !double.IsNaN(ExprValue.ParseNumber(v.AsString.Trim())) => ExprValue.Number(ExprValue.ParseNumber(v.AsString.Trim())),
        _ => v,
    };

    /// <summary>
    /// The variables GitHub's runner sets for every step, from the github context. GITHUB_OUTPUT, GITHUB_ENV,
    /// GITHUB_PATH and GITHUB_STEP_SUMMARY are not among them: the agent gives each step fresh files (PROTOCOL.md).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> DefaultEnv(ExprValue github)
    {
        string G(string key) => github.Members[key].ToString();
        string dir = ReplayDefaults.GuestCommandFileDirectory;
        return
        [
            new("GITHUB_ACTIONS", "true"),
            new("GITHUB_WORKSPACE", ReplayDefaults.GuestWorkspace),
            new("GITHUB_REPOSITORY", G("repository")),
            new("GITHUB_REPOSITORY_OWNER", G("repository_owner")),
            new("GITHUB_SHA", G("sha")),
            new("GITHUB_REF", G("ref")),
            new("GITHUB_REF_NAME", G("ref_name")),
            new("GITHUB_REF_TYPE", G("ref_type")),
            new("GITHUB_HEAD_REF", G("head_ref")),
            new("GITHUB_BASE_REF", G("base_ref")),
            new("GITHUB_EVENT_NAME", G("event_name")),
            new("GITHUB_WORKFLOW", G("workflow")),
            new("GITHUB_JOB", G("job")),
            new("GITHUB_RUN_ID", G("run_id")),
            new("GITHUB_RUN_NUMBER", G("run_number")),
            new("GITHUB_RUN_ATTEMPT", G("run_attempt")),
            new("GITHUB_ACTOR", G("actor")),
            new("GITHUB_SERVER_URL", G("server_url")),
            new("GITHUB_API_URL", G("api_url")),
            new("RUNNER_OS", RunnerOs),
            new("RUNNER_ARCH", RunnerArch),
            new("RUNNER_NAME", RunnerName),
            new("RUNNER_TEMP", dir),
        ];
    }

    private static (string Name, string Type) RefName(string @ref) =>
        @ref.StartsWith("refs/heads/", StringComparison.Ordinal) ? (@ref["refs/heads/".Length..], "branch")
        : @ref.StartsWith("refs/tags/", StringComparison.Ordinal) ? (@ref["refs/tags/".Length..], "tag")
        : @ref.StartsWith("refs/pull/", StringComparison.Ordinal) ? (@ref["refs/pull/".Length..], "branch")
        : (@ref, "branch");

    private static ExprValue Member(ExprValue o, string key) => o.Kind == ExprKind.Object && o.Members.TryGetValue(key, out ExprValue? v) ? v : ExprValue.Null;

    private static string? Str(ExprValue v) => v.Kind is ExprKind.String or ExprKind.Number ? v.ToString() : null;

    private static ExprValue S(string s) => ExprValue.String(s);
}
