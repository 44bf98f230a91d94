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
    /// Files that resolve but do not do what act expects are in <see cref="Differs"/>.
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
        // $GITHUB_ENV / $GITHUB_PATH / $GITHUB_OUTPUT and the steps context at step time (the plan notes it)
        "environment-files/push.yaml", "environment-files-parser-bug/push.yaml", "set-env-new-env-file-per-step/push.yml",
        "steps-context/conclusion/push.yml", "steps-context/outcome/push.yml",
        // actions from the action cache (tests/corpus/action-cache.sh), JavaScript pre/post in GitHub's order
        "issue-598/spelling.yml", "stepsummary/push.yml", "remote-action-js/push.yml",
        // TestJobExecutor: owner/repo/path@ref resolves (the sub-path action at DIR/owner/repo/ref/path)
        "uses-github-path/push.yml", "remote-action-composite-action-ref/push.yml", "uses-composite-check-for-input-in-if-uses/push.yml",
        "ensure-post-steps/push.yml", "post-step-failure-is-job-failure/push.yml", "uses-action-with-pre-and-post-step/push.yml",
        "uses-composite-with-pre-and-post-steps/push.yml", "uses-composite-check-for-input-collision/push.yml",
        "uses-composite-check-for-input-shadowing/push.yml",
        // a local action missing from the workspace fails its step where it runs (act: "Job 'nopanic' failed", "Job 'mytest' failed")
        "non-existent-action/push.yml", "if-expressions/push.yml",
        // reusable workflows: callee jobs as caller/job with the caller's with: (typed, defaults, required) and secrets
        // (a mapping or inherit); the calling job's outputs from on.workflow_call.outputs (needs placeholders in a dry run)
        "uses-workflow/local-workflow.yml", "uses-workflow/push.yml", "uses-workflow-defaults/workflow_dispatch.yml",
        // $GITHUB_STATE and ::save-state of an action's pre and main steps are STATE_<name> in its own post step only
        // (ReplayStepSource; the second job's second action saves other values that must not reach the first's post)
        "GITHUB_STATE/push.yml",
        // runs-on naming another runner (ubuntu-18.04, ubuntu-16.04, macos-latest) whose steps are portable: every
        // combination runs in the Linux image (macOS with a warning), each grep finds its node value and the job
        // succeeds as act's test expects (act skips the platforms it has no image for); include/exclude give 8
        "matrix/push.yml", "matrix-include-exclude/push.yml",
        // checkout steps under false if: with.ref never staged (no ref check for a step that never runs); the
        // JavaScript action from the cache runs with its input, as act's test expects
        "issue-597/spelling.yaml",
        // a composite's outputs read from its own steps' outputs (::set-output, $GITHUB_OUTPUT) as they end, in the steps
        // context of later steps (StepOutcomes); composite2 has its own; an inner failure under continue-on-error keeps them
        "uses-composite/push.yml", "composite-fail-with-output/push.yml",
        // local actions an earlier step writes (shell: cp {0} action.yml), loaded from the guest when their step comes
        // (RuntimeActions); each run on the stub launcher did what act asserts: the step's env stays out of later steps
        // and reaches the composite's if:, $GITHUB_ENV written inside it wins over the step's env afterwards, the github
        // context inside equals the workflow's (pull-request), and every invalid action fails its job (no-panic)
        "do-not-leak-step-env-in-composite/push.yml", "set-env-step-env-override/push.yml", "workflow_dispatch-scalar-composite-action/workflow_dispatch.yml",
        "pull-request/main.yaml", "no-panic-on-invalid-composite-action/push.yml",
        // a composite's with: evaluated when it starts (steps.<id>.outputs of earlier steps), a default reading another
        // input (inputs.other: ${{ inputs.some }}), a remote composite's outputs from its step's ::set-output
        "uses-composite-with-inputs/push.yml",
        // the pre: of JavaScript actions inside a remote composite runs before the job's steps with the inputs' defaults,
        // as GitHub's runner does (ActionManager's embedded pre steps; none for a local composite)
        "remote-action-composite-js-pre-with-defaults/push.yml",
        // --actor nektos/act (act's default, as its tests run): $GITHUB_ACTOR greps true in each of the three jobs (run on the stub launcher)
        "runs-on/push.yml",
        // config/config.yml local-repositories (https://github.com/nektos/test-override@a and nektos/test-override@b) as
        // --local-repository: the node20 and node16 JavaScript actions of testdata/actions run from those directories,
        // who-to-greet defaulting to World (INPUT_WHO-TO-GREET set as GitHub names it); both print Hello World! and
        // the job succeeds, as TestRunEvent expects (run on the stub launcher)
        "local-remote-action-overrides/push.yml",
        // not one of act's test cases: with.repository actions/checkout without with.ref is the cache's HEAD (the
        // mirror's default branch, laid out by tests/corpus/action-cache.sh) under test-subdir2; both greps find
        // Checkout (run on the stub launcher). Without an action cache it is not supported, naming what is missing.
        "issue-122/main.yaml",
        // container: jobs in the debian image's microVM in the image's place (act's -P mapping, ContainerJob): container.env
        // in the job's env (job-container's TEST_ENV greps test-value; fail's greps bazooka and fails with exit 1 as act
        // expects), sh as the default shell where no shell: is set (shells/defaults: $BASH unset in the container job, bash
        // on the runner), shell: bash / sh / defaults.run.shell from env as given; container-hostname: --user 100:101 and
        // --hostname my.host.local through the agent's doc_job user and hostname (setpriv, hostname), the other job root
        // under a generated name (a stub-launcher run of the same options printed those ids and names:
        // Cli/ReplayContainerJobTests); an empty credentials.password fails the job before its first step ("failed to
        // handle credentials", as act's test expects); job-container-non-root asserts only that echo PASS succeeds in a job
        // whose image has a non-root USER: it does, as root (the image's USER is not known without pulling it)
        "container-hostname/push.yml", "fail/push.yml", "job-container/push.yml", "job-container-invalid-credentials/push.yml",
        "job-container-non-root/push.yml", "shells/bash/push.yml", "shells/defaults/push.yml", "shells/sh/push.yml",
        // secrets pasted into the script text as GitHub does, single quotes included: the plan shows ***, the guest writes
        // the values (.secrets: a multi-line one, a JSON one) into the script; on the stub launcher each grep and wc -l passed
        "secrets/push.yml",
        // shell: python as python3 (ShellNames) on the runner, in the node:16-buster container's place and from
        // defaults.run.shell via env.MY_SHELL: each job prints the version; the debian image has python3 (BaseImageRecipe)
        "shells/python/push.yml",
    };

    /// <summary>
    /// Resolved files read against act's expectations whose run depends on the stdout workflow commands
    /// (<c>::set-output</c>, <c>::set-env</c>, <c>::add-path</c>, <c>::add-mask</c>, <c>::save-state</c>): the plan is right and
    /// says the commands apply at step time; the host-driven step loop applies them (Logs/WorkflowCommandReader).
    /// Counted correct and listed apart in the summary.
    /// </summary>
    public static readonly IReadOnlySet<string> ReviewedWithWorkflowCommands = new HashSet<string>(StringComparer.Ordinal)
    {
        "commands/push.yml", "outputs/push.yml", "mask-values/push.yml", "path-handling/push.yml", "evalmatrixneeds/push.yml", "evalmatrixneeds2/push.yml",
        "GITHUB_ENV-use-in-env-ctx/push.yml", "evalmatrix/push.yml", "workflow_dispatch/workflow_dispatch.yml", "workflow_call_inputs/workflow_call_inputs.yml",
    };

    /// <summary>Resolved files that do not do what act expects, with the reason (neither correct nor counted wrong: known gaps).</summary>
    public static readonly IReadOnlyDictionary<string, string> Differs = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["if-env-act/push.yml"] = "asserts act's own ACT=true variable, which GitHub (and replay) does not set",
        ["remote-action-js-node-user/push.yml"] = "container.options --user node: node:16-buster-slim has a node user, the debian image has none, so the job fails at set-up (unable to find user node) where act's passes",
        ["shells/pwsh/push.yml"] = "its steps run shell: pwsh; act runs them in catthehacker/ubuntu:pwsh-latest, and the debian image has no PowerShell",
        [".github/workflows/local-reusable-workflow.yml"] = "a callee run on its own, without its required inputs",
        ["uses-nested-composite/push.yml"] = "its nested composite asserts Node 16 from actions/setup-node@v3, which downloads it at run time; the debian image's node is another version and the VM fetches no toolchains",
        // reviewed: not among act's test cases (runner_test.go runs none of them); each step is planned as GitHub would,
        // but the run depends on toolchains or services the VM does not have
        ["node/push.yml"] = "not one of act's test cases: actions/setup-node@v1 downloads Node 12.6 at run time (the VM fetches no toolchains)",
        ["python/main.yml"] = "not one of act's test cases: actions/setup-python@v1.1.1 needs Python 3.7 in a hosted tool cache the VM does not have",
        ["issue-141/main.yaml"] = "not one of act's test cases: engineerd/setup-kind creates a Kubernetes cluster in Docker, which the VM does not run",
        ["actions/node20/node_modules/json-with-bigint/.github/workflows/ci.yml"] = "a dependency's own CI workflow under node_modules, not one of act's test cases: setup-node@v6 and npm fetch from the network",
        ["actions/node20/node_modules/universal-user-agent/.github/workflows/release.yml"] = "a dependency's own release workflow under node_modules, not one of act's test cases: npm ci and semantic-release need the network and an NPM_TOKEN",
    };
}
