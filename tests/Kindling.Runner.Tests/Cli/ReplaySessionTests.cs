using System.CommandLine;
using System.Diagnostics;
using Kindling.Runner.Cli;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Tests.Replay;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>kindling replay</c> end to end through its command line, on the daemon's job path (LocalForge → JobStore →
/// JobRunner → MMDS → LogPump) with the stub launcher standing in for kindling-vmm (this host's KVM cannot run a
/// Linux guest to user space; the real VMM path is covered on hardware KVM by ReplayHardwareTests).
/// </summary>
public sealed class ReplaySessionTests : IDisposable
{
    private const string Secret = "s3cr3t-api-token-value";
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-test-").FullName;
    private readonly RecordingLauncher _launcher = new(new StubVmLauncher(TimeSpan.Zero));
    private readonly WorkspaceRecorder _images;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplaySessionTests()
    {
        Repo = Path.Combine(_root, "repo");
        State = Path.Combine(_root, "state");
        Directory.CreateDirectory(Path.Combine(Repo, ".github", "workflows"));
        File.Copy(Path.Combine(ReplayCorpus.Workflows, "stub-demo.yml"), Path.Combine(Repo, ".github", "workflows", "ci.yml"));
        Directory.CreateDirectory(Path.Combine(Repo, "src"));
        File.WriteAllText(Path.Combine(Repo, "src", "main.c"), "int main(void) { return 0; }\n");
        _images = new WorkspaceRecorder(new PlaceholderImageProvider(Path.Combine(State, "images")));
    }

    private string Repo { get; }
    private string State { get; }
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ReplayConsole Console(bool images = true) => new()
    {
        Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
        Services = s =>
        {
            s.AddSingleton<IVmLauncher>(_launcher);
            if (images)
            {
                s.AddSingleton<IImageProvider>(_images);
            }
        },
    };

    private Task<int> Replay(params string[] args) => Replay(Console(), args);

    private async Task<int> Replay(ReplayConsole io, params string[] args) =>
        await ReplayCommand.Build(io).Parse([.. args, "--state", State, "--launcher", "stub"]).InvokeAsync(cancellationToken: Ct);

    private JobStore Store() => new(Path.Combine(State, "kindling.db"), TimeProvider.System);

    [Fact]
    public async Task Replay_StubDemo_StreamsStepsMasksSecretAndRecordsJob()
    {
        int exit = await Replay("--worktree", "-s", $"API_TOKEN={Secret}");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("▶ [2/6] Say hello", output, StringComparison.Ordinal);
        Assert.Contains("  hello from local/repo at main", output, StringComparison.Ordinal);
        Assert.Contains("  header: ***", output, StringComparison.Ordinal);
        Assert.Contains("  raw: ***", output, StringComparison.Ordinal);
        Assert.Contains("- [4/6] Fail on purpose: skipped (its if: is false)", output, StringComparison.Ordinal);
        Assert.Contains("- [5/6] Only after a failure: skipped", output, StringComparison.Ordinal);
        Assert.Contains("✓ [6/6] Always (exit 0", output, StringComparison.Ordinal);
        Assert.Contains("job 1 succeeded (exit 0)", output, StringComparison.Ordinal);
        Assert.Contains("rerun: kindling replay --rerun 1", output, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, output + _err, StringComparison.Ordinal);

        JobStore store = Store();
        JobRecord job = store.Get(1)!;
        Assert.Equal(JobState.Cleaned, job.State);
        Assert.Equal("replay", job.Tenant);
        Assert.Equal(["ubuntu-latest"], job.Labels);
        Assert.Equal(6, store.Steps(1).Count);
        Assert.DoesNotContain(Secret, job.SpecJson!, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, await File.ReadAllTextAsync(job.LogPath!, Ct), StringComparison.Ordinal);

        // Secrets reached the guest only through MMDS, the derived one built from its recipe.
        var secrets = _launcher.Requests.Single().Mmds["kindling"]!["secrets"]!;
        Assert.Equal(Secret, secrets["API_TOKEN"]!.GetValue<string>());
        Assert.Equal("token " + Secret, secrets["AUTH"]!.GetValue<string>());
        Assert.Contains(Path.Combine("src", "main.c"), _images.Staged.Single());
        Assert.Contains(Path.Combine(".github", "workflows", "ci.yml"), _images.Staged.Single());
    }

    [Fact]
    public async Task Replay_FailingStep_ExitCodeIsTheStepsAndFailureStepsRun()
    {
        File.WriteAllText(Path.Combine(Repo, ".env"), "FAIL=yes\n");
        int exit = await Replay("--worktree", "-s", $"API_TOKEN={Secret}");
        Assert.Equal(3, exit);
        Assert.Contains("✗ [4/6] Fail on purpose (exit 3", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("  collecting logs", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("job 1 failed (exit 3): job-end result=failed exit=3", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_SecretNotGiven_ErrorNamesItBeforeAnyVm()
    {
        int exit = await Replay("--worktree");
        Assert.Equal(2, exit);
        Assert.Contains("job greet reads secret(s) API_TOKEN, which were not given: pass -s API_TOKEN", _err.ToString(), StringComparison.Ordinal);
        Assert.Empty(_launcher.Requests);
        Assert.Empty(Store().List());
    }

    [Fact]
    public async Task Replay_SecretFromEnvironment_DashSName()
    {
        int exit = await Replay(Console() with { Environment = n => n == "API_TOKEN" ? Secret : null }, "--worktree", "-s", "API_TOKEN");
        Assert.True(exit == 0, _out.ToString() + _err);
    }

    [Fact]
    public async Task Replay_HeadSnapshot_CommittedFilesOnly_WorktreeAddsUntracked()
    {
        Git("init", "-q", "-b", "trunk");
        File.WriteAllText(Path.Combine(Repo, ".gitignore"), "build/\n");
        Git("add", ".");
        Git("commit", "-q", "-m", "first");
        File.WriteAllText(Path.Combine(Repo, "untracked.txt"), "new\n");
        Directory.CreateDirectory(Path.Combine(Repo, "build"));
        File.WriteAllText(Path.Combine(Repo, "build", "out.o"), "ignored\n");

        Assert.Equal(0, await Replay("-s", $"API_TOKEN={Secret}"));
        Assert.Contains("hello from local/repo at trunk", _out.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, await Replay("--worktree", "-s", $"API_TOKEN={Secret}"));

        IReadOnlyList<string>[] staged = [.. _images.Staged];
        Assert.Contains(Path.Combine("src", "main.c"), staged[0]);
        Assert.DoesNotContain("untracked.txt", staged[0]);
        Assert.Contains("untracked.txt", staged[1]);
        Assert.DoesNotContain(Path.Combine("build", "out.o"), staged[1]);
        Assert.DoesNotContain(staged[1], f => f.StartsWith(".git" + Path.DirectorySeparatorChar, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Replay_NotGitWithoutWorktree_ErrorSaysPassWorktree()
    {
        Assert.Equal(2, await Replay("-s", $"API_TOKEN={Secret}"));
        Assert.Contains("is not a git repository with a commit: pass --worktree", _err.ToString(), StringComparison.Ordinal);
        Assert.Empty(_launcher.Requests);
    }

    [Fact]
    public async Task Rerun_RecordedJob_SameSpecFreshVm()
    {
        Assert.Equal(0, await Replay("--worktree", "-s", $"API_TOKEN={Secret}"));
        Assert.Equal(0, await Replay("--rerun", "1", "-s", $"API_TOKEN={Secret}"));

        JobStore store = Store();
        Assert.Equal(store.Get(1)!.SpecJson, store.Get(2)!.SpecJson);
        Assert.Equal(["kindling-vm-1", "kindling-vm-2"], _launcher.Requests.Select(r => r.VmId));
        Assert.Contains("rerunning job 1 (greet, .github/workflows/ci.yml job greet) in a fresh VM", _err.ToString(), StringComparison.Ordinal);
        Assert.Equal(_images.Staged[0], _images.Staged[1]);
    }

    [Fact]
    public async Task Rerun_SecretNotGivenAgain_ErrorNamesIt()
    {
        Assert.Equal(0, await Replay("--worktree", "-s", $"API_TOKEN={Secret}"));
        Assert.Equal(2, await Replay("--rerun", "1"));
        Assert.Contains("job 1 reads secret(s) API_TOKEN (values are never stored): pass them again, e.g. -s API_TOKEN", _err.ToString(), StringComparison.Ordinal);
        Assert.Single(_launcher.Requests);
    }

    [Fact]
    public async Task Rerun_UnknownJob_Error()
    {
        Assert.Equal(2, await Replay("--rerun", "42"));
        Assert.Contains("there is no job 42 in", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_Keep_OverlayMovedOutOfTheJobDirectory()
    {
        Assert.Equal(0, await Replay(Console(images: false), "--worktree", "--keep", "-s", $"API_TOKEN={Secret}"));
        string kept = Path.Combine(State, "replay", "kept", "job-1-overlay.placeholder");
        Assert.True(File.Exists(kept), _out.ToString());
        Assert.Contains($"kept the job's overlay disk: {kept}", _out.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(State, "jobs", "1")));
    }

    [Fact]
    public async Task Replay_DryRun_PrintsPlanWithoutVm()
    {
        Assert.Equal(0, await Replay("-n", "--worktree"));
        Assert.Contains("secrets: API_TOKEN (missing)", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("  3. Use a secret  [sh]", _out.ToString(), StringComparison.Ordinal);
        Assert.Empty(_launcher.Requests);
    }

    [Fact]
    public async Task Replay_List_ActColumnsAndStages()
    {
        File.Copy(Path.Combine(ReplayCorpus.Workflows, "monorepo.yml"), Path.Combine(Repo, ".github", "workflows", "monorepo.yml"));
        File.Copy(Path.Combine(ReplayCorpus.Invalid, "bad-indent.yml"), Path.Combine(Repo, ".github", "workflows", "broken.yml"));
        Assert.Equal(0, await Replay("-l"));
        string[] lines = _out.ToString().TrimEnd().Split('\n');
        Assert.Matches(@"^Stage\s+Job ID\s+Job name\s+Workflow name\s+Workflow file\s+Events$", lines[0]);
        Assert.Matches(@"^0\s+greet\s+greet\s+Stub demo\s+ci\.yml\s+push$", lines[1]);
        Assert.Matches(@"^2\s+e2e\s+", lines[^1]);
        Assert.Contains("warning: skipped .github/workflows/broken.yml:8:6: invalid YAML", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_SeveralJobsNoTerminal_AsksForDashJ()
    {
        File.Copy(Path.Combine(ReplayCorpus.Workflows, "cleanup.yml"), Path.Combine(Repo, ".github", "workflows", "cleanup.yml"));
        Assert.Equal(2, await Replay("--worktree"));
        Assert.Contains("there are 2 jobs; pick one with -j: greet (ci.yml), integration (cleanup.yml)", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_UnknownJob_ListsValidOnes()
    {
        Assert.Equal(2, await Replay("-j", "build"));
        Assert.Contains("no job 'build' in ci.yml; jobs: greet", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_InvalidYaml_LineAndColumn()
    {
        string bad = Path.Combine(ReplayCorpus.Invalid, "tab-indent.yml");
        Assert.Equal(2, await Replay(bad));
        Assert.Contains("tab-indent.yml:7:1: invalid YAML: while scanning a mapping, found invalid tab as indentation", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_UsesStep_RefusedUnlessSkipUses()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  b:\n    runs-on: x\n    steps:\n      - uses: actions/setup-go@v5\n      - run: echo built\n");
        Assert.Equal(2, await Replay("--worktree"));
        Assert.Contains("step 1 'Run actions/setup-go@v5' (actions/setup-go@v5: remote actions run from a local cache: pass --action-cache DIR", _err.ToString(), StringComparison.Ordinal);
        Assert.Contains("pass --skip-uses", _err.ToString(), StringComparison.Ordinal);
        Assert.Empty(_launcher.Requests);

        Assert.Equal(0, await Replay("--worktree", "--skip-uses"));
        Assert.Contains("kindling: uses: actions/setup-go@v5: remote actions run from a local cache: pass --action-cache DIR holding DIR/owner/repo/ref, or --local-repository actions/setup-go@v5=PATH; step skipped (--skip-uses)", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("  built", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_Matrix_EachCombinationAJob_FilterSelects()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      max-parallel: 1\n      matrix:\n        n: [1, 2, 3]\n    steps:\n      - run: |\n          echo n=${{ matrix.n }}\n          exit ${{ matrix.n == 2 && 7 || 0 }}\n");
        Assert.Equal(7, await Replay("--worktree"));
        Assert.Equal(2, _launcher.Requests.Count); // fail-fast: the failure of n=2 cancels n=3 before it starts
        Assert.Contains("t (2) [matrix 2/3] -> job 2", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("job t (t (3)): cancelled before it started (fail-fast: a sibling failed)", _out.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, await Replay("--worktree", "--matrix", "n:3"));
        Assert.Equal(3, _launcher.Requests.Count);
    }

    [Fact]
    public async Task Replay_JobWithNeeds_NeedsRunFirstAndOutputsFlowStepToJobToJob()
    {
        File.Copy(Path.Combine(ReplayCorpus.Workflows, "outputs-needs.yml"), Path.Combine(Repo, ".github", "workflows", "ci.yml"), overwrite: true);

        int exit = await Replay("--worktree", "-j", "report");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Equal(3, _launcher.Requests.Count); // version, build, report: one VM each, in dependency order
        Assert.Contains("  building v1.2.3 for stable", output, StringComparison.Ordinal);
        Assert.Contains("  results success,success", output, StringComparison.Ordinal);
        Assert.Contains("job version: success (outputs: tag, channel)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_NeededJobFails_DependentSkippedExitIsTheFailure()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: exit 5}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: echo never}]\n");

        Assert.Equal(5, await Replay("--worktree", "-j", "b"));
        Assert.Single(_launcher.Requests);
        Assert.Contains("job b (b): skipped: a job it needs did not succeed", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_GitHubEnvAndPath_ReachLaterSteps()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo GREETING=hi >> \"$GITHUB_ENV\"\n      - run: echo \"greeting=$GREETING\"\n");

        Assert.Equal(0, await Replay("--worktree"));
        Assert.Contains("  greeting=hi", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_LocalCompositeAction_ItsStepsRunWithInputs()
    {
        Directory.CreateDirectory(Path.Combine(Repo, "greet"));
        File.WriteAllText(Path.Combine(Repo, "greet", "action.yml"),
            "name: greet\ninputs:\n  who: {default: world}\nruns:\n  using: composite\n  steps:\n    - run: echo \"hello ${{ inputs.who }}\" && test -f \"$PWD/greet/action.yml\"\n      shell: sh\n");
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: ./greet\n        with: {who: replay}\n      - uses: ./greet\n");

        Assert.Equal(0, await Replay("--worktree"));
        Assert.Contains("  hello replay", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("  hello world", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_BadImage_ErrorListsChoices()
    {
        Assert.Equal(2, await Replay("--worktree", "--image", "alpine"));
        Assert.Contains("--image alpine: use minimal", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_BadEventFile_ErrorWithPosition()
    {
        File.WriteAllText(Path.Combine(Repo, "event.json"), "{\n  \"ref\": oops\n}\n");
        Assert.Equal(2, await Replay("--worktree", "-e", "event.json"));
        Assert.Contains("-e event.json: invalid JSON at line 2", _err.ToString(), StringComparison.Ordinal);
    }

    private void Git(params string[] args)
    {
        using Process p = Process.Start(new ProcessStartInfo("git", ["-C", Repo, "-c", "user.name=t", "-c", "user.email=t@example.com", .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _out.Dispose();
        _err.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Placeholder images that record which files the job's workspace held when its overlay was made.</summary>
    private sealed class WorkspaceRecorder(IImageProvider inner) : IImageProvider
    {
        private readonly List<IReadOnlyList<string>> _staged = [];

        public IReadOnlyList<IReadOnlyList<string>> Staged { get { lock (_staged) return [.. _staged]; } }

        public Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct) => inner.EnsureImagesAsync(progress, ct);

        public Task<string> CreateOverlayAsync(string workDir, CancellationToken ct)
        {
            string ws = Path.Combine(workDir, ImageStoreProvider.WorkspaceFolder);
            string[] files = Directory.Exists(ws)
                ? [.. Directory.EnumerateFiles(ws, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(ws, f)).Order(StringComparer.Ordinal)]
                : [];
            lock (_staged)
            {
                _staged.Add(files);
            }

            return inner.CreateOverlayAsync(workDir, ct);
        }

        public void DeleteOverlay(string overlayPath) => inner.DeleteOverlay(overlayPath);
    }
}
