namespace Kindling.Runner.Tests.Replay.ActCorpus;

/// <summary>
/// What act expects of its corpus files, read from act's tests (runner_test.go, planner tests) and the files
/// themselves. A resolved file counts as correct only when listed in <see cref="Reviewed"/>: its dry run was read
/// against what act (and GitHub) would do. Paths are relative to pkg/runner/testdata.
/// </summary>
public static class ActExpectations
{
    /// <summary>Files act refuses at planning, with act's reason.</summary>
    public static readonly IReadOnlyDictionary<string, string> Invalid = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["issue-1595/missing.yml"] = "unable to build dependency graph for missing (TestGraphWithMissing)",
        ["issue-1595/no-first.yml"] = "unable to build dependency graph for no first (TestGraphMissingFirst)",
        ["issue-1595/no-event.yml"] = "no events found for workflow: act plans no job (TestGraphMissingEvent); GitHub rejects a workflow without on:",
        ["job-nil-step/push.yml"] = "invalid Step 0: missing run or uses key (TestJobExecutor)",
        ["uses-and-run-in-one-step/push.yml"] = "Invalid run/uses syntax for job:test step:Test (TestJobExecutor)",
        ["uses-github-empty/push.yml"] = "Expected format {org}/{repo}[/path]@ref (TestJobExecutor)",
        ["uses-github-noref/push.yml"] = "Expected format {org}/{repo}[/path]@ref (TestJobExecutor)",
        ["uses-github-short-sha/main.yml"] = "the provided ref is the shortened version of a commit SHA, which is not supported (TestJobExecutor)",
    };

    /// <summary>
    /// Resolved files whose dry run was read against act's expectations: every step, its shell and directory, env at
    /// each level, if: reductions, matrix combinations, needs order and the values the workflow's own assertions test.
    /// Left out on purpose though they resolve: if-env-act (asserts act's own ACT=true variable), runs-on (asserts
    /// act's default actor nektos/act) and local-reusable-workflow.yml (a callee run without its required inputs).
    /// </summary>
    public static readonly IReadOnlySet<string> Reviewed = new HashSet<string>(StringComparer.Ordinal)
    {
        ".github/workflows/local-reusable-and-dispatch.yml", ".github/workflows/local-reusable-workflow-no-inputs-array.yml",
        ".github/workflows/local-reusable-workflow-no-inputs-string.yml", "act-composite-env-test/push.yml", "checkout/push.yml",
        "defaults-run/main.yaml", "dir with spaces/push.yml", "env-and-path/push.yaml", "environment-variables/push.yml", "evalenv/push.yml",
        "evalmatrix-merge-array/push.yml", "evalmatrix-merge-map/push.yml", "input-from-cli/input.yml", "inputs-via-env-context/push.yml",
        "issue-1195/push.yml", "job-needs-context-contains-result/push.yml", "job-status-check/push.yml", "local-action-js/push.yml",
        "matrix-exitcode/push.yml", "matrix-with-user-inclusions/push.yml", "networking/push.yml", "nix-prepend-path/push.yml",
        "uses-composite-with-error/push.yml", "uses-github-root/push.yml", "workdir/push.yml", "workflow_dispatch-scalar/workflow_dispatch.yml",
        "workflow_dispatch_no_inputs_mapping/workflow_dispatch.yml",
    };
}
