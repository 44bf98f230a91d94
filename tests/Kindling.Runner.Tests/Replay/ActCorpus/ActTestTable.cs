namespace Kindling.Runner.Tests.Replay.ActCorpus;

/// <summary>What act's runner_test.go passes for one test directory (the rest run as push with nothing given).</summary>
public sealed record ActTestCase
{
    /// <summary>The event the test plans for (act runs only the workflows it triggers); null where no test names the directory (the CLI picks, as act's does).</summary>
    public string? EventName { get; init; }
    /// <summary>A second event the tables run the directory with (uses-workflow: push and pull_request): a file triggered only by it runs with it.</summary>
    public string? AlsoEvent { get; init; }
    public IReadOnlyList<string> Secrets { get; init; } = [];
    public IReadOnlyList<string> Inputs { get; init; } = [];
    public IReadOnlyList<string> Matrix { get; init; } = [];
    /// <summary>A .secrets / .env file in the test's directory that the test reads (TestRunEventSecrets).</summary>
    public string? SecretFile { get; init; }
    public string? EnvFile { get; init; }
}

/// <summary>
/// The rows of act's tables (TestRunEvent, TestJobExecutor, TestRunEventSecrets, TestRunActionInputs, ...): every directory they
/// name runs with its event; the ones not listed here run as push with nothing given.
/// </summary>
public static class ActTestTable
{
    private static readonly Dictionary<string, ActTestCase> Cases = new(StringComparer.Ordinal)
    {
        ["uses-workflow"] = new() { EventName = "push", AlsoEvent = "pull_request", Secrets = ["secret=keep_it_private"] },
        ["workflow_call_inputs"] = new() { EventName = "workflow_call" },
        ["workflow_dispatch"] = new() { EventName = "workflow_dispatch" },
        ["workflow_dispatch_no_inputs_mapping"] = new() { EventName = "workflow_dispatch" },
        ["workflow_dispatch-scalar"] = new() { EventName = "workflow_dispatch" },
        ["workflow_dispatch-scalar-composite-action"] = new() { EventName = "workflow_dispatch" },
        ["uses-workflow-defaults"] = new() { EventName = "workflow_dispatch" },
        ["input-from-cli"] = new() { EventName = "workflow_dispatch", Inputs = ["SOME_INPUT=input"] },
        ["pull-request"] = new() { EventName = "pull_request" },
        ["secrets"] = new() { EventName = "push", SecretFile = ".secrets", EnvFile = ".env" },
        ["matrix-with-user-inclusions"] = new() { EventName = "push", Matrix = ["node:8", "node:8.x", "os:ubuntu-18.04"] },
    };

    /// <summary>Directories act's tables run as push with nothing else given.</summary>
    private static readonly HashSet<string> Push = new(StringComparer.Ordinal)
    {
        "shells/defaults", "shells/pwsh", "shells/bash", "shells/python", "shells/sh", "local-action-docker-url", "local-action-dockerfile",
        "local-action-via-composite-dockerfile", "local-action-js", "uses-composite", "uses-composite-with-error", "uses-composite-check-for-input-collision",
        "uses-composite-check-for-input-shadowing", "uses-nested-composite", "remote-action-composite-js-pre-with-defaults", "remote-action-composite-action-ref",
        "uses-docker-url", "act-composite-env-test", "evalmatrix", "evalmatrixneeds", "evalmatrixneeds2", "evalmatrix-merge-map", "evalmatrix-merge-array",
        "issue-1195", "basic", "fail", "runs-on", "checkout", "job-container", "job-container-non-root", "job-container-invalid-credentials",
        "container-hostname", "remote-action-docker", "remote-action-docker-new-cache", "remote-action-js", "remote-action-js-node-user", "matrix",
        "matrix-include-exclude", "matrix-exitcode", "commands", "workdir", "defaults-run", "composite-fail-with-output", "issue-597", "issue-598",
        "if-env-act", "env-and-path", "environment-files", "GITHUB_STATE", "environment-files-parser-bug", "non-existent-action", "outputs",
        "networking", "steps-context/conclusion", "steps-context/outcome", "job-status-check", "if-expressions", "actions-environment-and-context-tests",
        "uses-action-with-pre-and-post-step", "evalenv", "docker-action-custom-path", "GITHUB_ENV-use-in-env-ctx", "ensure-post-steps",
        "job-needs-context-contains-result", "path-handling", "do-not-leak-step-env-in-composite", "set-env-step-env-override",
        "set-env-new-env-file-per-step", "no-panic-on-invalid-composite-action", "stepsummary", "services", "services-empty-image",
        "services-host-network", "services-with-container", "mysql-service-container-with-health-check", "local-remote-action-overrides",
        "docker-action-host-env", "windows-prepend-path", "windows-add-env", "windows-prepend-path-powershell-5", "windows-add-env-powershell-5",
        "windows-shell-cmd", "nix-prepend-path", "inputs-via-env-context", "action-cache-v2-fetch-failure-is-job-error",
        "post-step-failure-is-job-failure", "mask-values", "uses-and-run-in-one-step", "uses-github-empty", "uses-github-noref", "uses-github-root",
        "uses-github-path", "uses-github-full-sha", "uses-github-short-sha", "job-nil-step", "issue-1595",
    };

    public static ActTestCase For(string directory) =>
        Cases.GetValueOrDefault(directory) ?? (Push.Contains(directory) ? new ActTestCase { EventName = "push" } : new ActTestCase());
}
