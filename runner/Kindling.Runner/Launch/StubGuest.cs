using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kindling.Images.Guest;
using Kindling.Runner.Jobs;
using Kindling.Runner.Logs;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>
/// The stub launcher's guest: images/guest/agent.sh's rules (images/guest/PROTOCOL.md) over the MMDS document,
/// with real processes for the steps. What it follows: the environment order (secrets, job env, step env, plus
/// CI, KINDLING, KINDLING_JOB_ID, KINDLING_WORKSPACE); <c>shell</c> (sh runs <c>sh -e -c</c>, bash runs
/// <c>bash --noprofile --norc -eo pipefail -c</c>, anything else <c>V -c</c>); <c>working_directory</c> (relative
/// to the workspace; missing: exit 2); <c>if</c> (success(), failure(), always(), cancelled(); anything else: exit
/// 2); <c>continue_on_error</c>; <c>timeout_seconds</c> (the job's time left, a killed step ends with 137); a step's
/// own <c>timeout_seconds</c> and, in host mode, <c>kindling/cancel</c> (the step is ended, step-end says
/// <c>ended=timed-out</c> or <c>ended=cancelled</c>; the stub kills at once where the agent sends TERM first); output
/// lines that would forge a control line get a leading space; each step's command files ($GITHUB_OUTPUT, $GITHUB_ENV,
/// $GITHUB_PATH, $GITHUB_STEP_SUMMARY: fresh per step, reported in a step-files line, env and path applied to the
/// later steps); a GitHub job runs the image's <c>/opt/actions-runner/run.sh --jitconfig</c> in its folder as step 0
/// (as this host's user: the stub cannot switch to the image's <c>runner</c> user as the agent does), its exit code
/// the job's, and fails with the agent's error when the image has none; the job's <c>user</c> and <c>hostname</c>
/// (<see cref="StubGuestIdentity"/>); a script with secret placeholders has them replaced and runs from a file,
/// removed after the step (<see cref="WriteScript"/>). The job arrives as the agent's one job
/// document (<see cref="JobDocument"/>); in host-driven mode each step arrives later, through <see cref="PatchMmds"/>.
/// </summary>
internal sealed partial class StubGuest(JsonObject mmds, string? imageFiles, string folder, TimeSpan jobDuration, TimeSpan bootDelay, Task vmExited) : IDisposable
{
    /// <summary>
    /// As the agent with <c>kindling.park=1</c>: after booting it says agent-waiting and waits for the document
    /// instead of failing without one (the golden snapshot's guest).
    /// </summary>
    public bool Park { get; init; }

    /// <summary>Restored from a snapshot of a parked guest: no boot, it wakes inside the wait for its document.</summary>
    public bool Restored { get; init; }

    /// <summary>Restored paused (a warm slot): its vCPUs do not run, so it reads nothing, until <see cref="Resume"/>.</summary>
    public bool Paused
    {
        get => !_resumed.Task.IsCompleted;
        init
        {
            if (!value)
            {
                _resumed.TrySetResult();
            }
        }
    }

    private readonly TaskCompletionSource _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// PATCH /vm Resumed. <paramref name="movedTo"/>: where the workspace is now (a warm slot's folder became the
    /// job's while the guest was paused; a real guest's disk moves with it).
    /// </summary>
    public void Resume(string? movedTo = null)
    {
        _workspace = movedTo ?? _workspace;
        _resumed.TrySetResult();
    }

    /// <summary>The job's workspace on this host (the guest's /workspace).</summary>
    private string _workspace = folder;

    /// <summary>Firecracker's <c>PUT /mmds</c>: the data store replaced whole.</summary>
    public void PutMmds(JsonObject data)
    {
        lock (_mmdsGate)
        {
            _mmds = data.DeepClone().AsObject();
            _patched.TrySetResult();
            _patched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>What the guest's MMDS holds now (for tests: a warm slot's holds no job and no secret).</summary>
    public string MmdsText
    {
        get
        {
            lock (_mmdsGate)
            {
                return _mmds.ToJsonString();
            }
        }
    }

    /// <summary>Whether the guest has said agent-waiting and waits for its document (a snapshot may be taken).</summary>
    public bool Waiting { get; private set; }

    /// <summary>The agent's code for its own failures (PROTOCOL.md).</summary>
    private const int ExitAgentError = 125;

    /// <summary>What <c>timeout -s KILL</c> leaves: 128 + SIGKILL.</summary>
    private const int ExitKilled = 137;

    /// <summary>What a shell answers when a command exists but cannot be executed.</summary>
    private const int ExitCannotRun = 126;

    private const string GuestWorkspace = "/workspace";
    private const string ActionsRunner = "/opt/actions-runner/run.sh";

    /// <summary>The MMDS data store limit the launcher starts kindling-vmm with.</summary>
    private const int MmdsSizeLimit = VmmLauncher.MmdsSizeLimit;

    /// <summary>kindling-vmm's MmdsDataStore measures the store as JSON with only the escapes JSON requires.</summary>
    private static readonly JsonSerializerOptions StoreJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly CancellationTokenSource _dead = new();
    private JsonObject _mmds = mmds.DeepClone().AsObject(); // replaced whole by each PATCH, under _mmdsGate
    private readonly object _mmdsGate = new();
    private TaskCompletionSource _patched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private JsonObject _secrets = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// While a step runs, its output (<see cref="CopyOutputAsync"/>) and the agent's own lines about it share the serial
    /// writer: one write at a time (a StreamWriter refuses a second write while one is in flight; the refusal ended the
    /// guest with its step still running when a cancel's line met the step's output).
    /// </summary>
    private readonly SemaphoreSlim _writing = new(1, 1);

    /// <summary>Whether <see cref="Die"/> ended this guest.</summary>
    public bool Died { get; private set; }

    private bool Stopped => _dead.IsCancellationRequested || vmExited.IsCompleted;

    public void Die()
    {
        Died = true;
        try
        {
            _dead.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the guest has just ended
        }
    }

    public void Dispose()
    {
        _dead.Dispose();
        _writing.Dispose();
        if (_filesRoot is { } root && Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }

        if (_scriptsRoot is { } scripts && Directory.Exists(scripts))
        {
            Directory.Delete(scripts, recursive: true);
        }
    }

    /// <summary>
    /// Firecracker's <c>PATCH /mmds</c>: a JSON merge patch (RFC 7396) of the data store, refused (and not applied)
    /// when the result would be over the data store's size limit.
    /// </summary>
    public Task PatchMmds(JsonObject patch)
    {
        lock (_mmdsGate)
        {
            JsonObject merged = _mmds.DeepClone().AsObject();
            Merge(merged, patch);
            int size = System.Text.Encoding.UTF8.GetByteCount(merged.ToJsonString(StoreJson));
            if (size > MmdsSizeLimit)
            {
                throw new VmLaunchException($"VMM API PATCH /mmds answered 400: the MMDS data store would hold {size} bytes, over its limit of {MmdsSizeLimit}");
            }

            _mmds = merged;
            _patched.TrySetResult();
            _patched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        return Task.CompletedTask;
    }

    private static void Merge(JsonObject target, JsonObject patch)
    {
        foreach ((string k, JsonNode? v) in patch)
        {
            if (v is null)
            {
                target.Remove(k);
            }
            else if (v is JsonObject o && target[k] is JsonObject t)
            {
                Merge(t, o);
            }
            else
            {
                target[k] = v is JsonObject ? Without(v.AsObject()) : v.DeepClone();
            }
        }
    }

    /// <summary>A patch object as a value: its null members removed (RFC 7396).</summary>
    private static JsonObject Without(JsonObject o)
    {
        var copy = new JsonObject();
        Merge(copy, o);
        return copy;
    }

    /// <summary>Runs the job; returns when job-end is written or the VM is gone.</summary>
    public async Task RunAsync(StreamWriter w)
    {
        Task stop = Task.WhenAny(vmExited, Task.Delay(Timeout.Infinite, _dead.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        if (!Restored)
        {
            await w.WriteLineAsync("stub guest: booting");
            await Task.WhenAny(Task.Delay(bootDelay), stop);
            if (Stopped)
            {
                return;
            }

            if (Park)
            {
                // Parked before it says so: the runner snapshots as soon as it reads the line (under load the line
                // reached it before this thread got to DocumentAsync, and the snapshot was refused).
                lock (_mmdsGate)
                {
                    Waiting = true;
                }

                await w.WriteLineAsync("##kindling[agent-waiting]");
            }
        }

        await Task.WhenAny(_resumed.Task, stop); // a paused VM runs nothing
        if (Stopped)
        {
            return;
        }

        // As the agent: one GET of /kindling/document, read as a version 1 job document (parked: until it is there).
        JsonNode kindling;
        string? text = await DocumentAsync(Park || Restored, stop);
        if (Stopped)
        {
            return;
        }

        if (text is null)
        {
            await FatalAsync(w, "MMDS has no /kindling/document: the runner put no job");
            return;
        }

        try
        {
            kindling = JobDocument.Parse(text)[MmdsKeys.Kindling]!;
        }
        catch (FormatException e)
        {
            await FatalAsync(w, $"/kindling/document is not a version 1 job document: {e.Message}");
            return;
        }

        if (kindling[MmdsKeys.Host.Key] is { } host)
        {
            await w.WriteLineAsync(HostLine(host));
        }

        JsonNode job = kindling[MmdsKeys.Root.Job]!;
        _secrets = kindling[MmdsKeys.Root.Secrets]?.AsObject() ?? new JsonObject();

        Dictionary<string, string> env = [];
        foreach (string tree in (string[])["secrets", "job/env"])
        {
            JsonNode? node = tree == "secrets" ? kindling[MmdsKeys.Root.Secrets] : job[MmdsKeys.Job.Env];
            foreach ((string k, JsonNode? v) in node?.AsObject() ?? [])
            {
                if (!ValidName().IsMatch(k))
                {
                    await FatalAsync(w, $"environment name '{k}' under /kindling/{tree} is not a valid variable name");
                    return;
                }

                env[k] = v!.GetValue<string>();
            }
        }

        string jobId = job[MmdsKeys.Job.Id]!.GetValue<string>();
        Directory.CreateDirectory(_workspace);
        env["CI"] = "true";
        env["KINDLING"] = "true";
        env["KINDLING_JOB_ID"] = jobId;
        env["KINDLING_WORKSPACE"] = _workspace;
        await w.WriteLineAsync($"##kindling[job-start id={UnsafeIdChars().Replace(jobId, "_")}]");
        await Task.WhenAny(Task.Delay(jobDuration), stop);
        if (Stopped)
        {
            return;
        }

        if (kindling[MmdsKeys.Root.GitHub]?[MmdsKeys.GitHub.JitConfig] is { } jit)
        {
            await RunActionsRunnerAsync(w, env, jit.GetValue<string>(), stop);
            return;
        }

        await RunStepsAsync(w, job, env, stop);
    }

    /// <summary>The document's text; parked, waits (as the agent polls) until the MMDS holds one or the VM stops.</summary>
    private async Task<string?> DocumentAsync(bool wait, Task stop)
    {
        while (true)
        {
            Task patched;
            lock (_mmdsGate)
            {
                if (_mmds["kindling"]?[JobDocument.Key]?.GetValue<string>() is { } text || !wait)
                {
                    Waiting = false;
                    return _mmds["kindling"]?[JobDocument.Key]?.GetValue<string>();
                }

                Waiting = true;
                patched = _patched.Task;
            }

            await Task.WhenAny(patched, stop);
            if (Stopped)
            {
                return null;
            }
        }
    }

    /// <summary>The agent's apply_host line (for a document with doc_host records): the stub steps no clock and seeds no RNG, it says what the agent would.</summary>
    private static string HostLine(JsonNode host)
    {
        string? seed = host[MmdsKeys.Host.Seed]?.GetValue<string>();
        return $"kindling: generation {host[MmdsKeys.Host.Generation]?.GetValue<string>() ?? "0"}, clock @{host[MmdsKeys.Host.Clock]?.GetValue<string>() ?? "unchanged"}, rng reseeded from {(seed is null ? "nothing" : "document")}";
    }

    private async Task RunActionsRunnerAsync(StreamWriter w, Dictionary<string, string> env, string jitConfig, Task stop)
    {
        string? runner = imageFiles is null ? null : Path.Combine(imageFiles, ActionsRunner.TrimStart('/'));
        if (runner is null || new FileInfo(runner) is not { Exists: true } file || (file.UnixFileMode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
        {
            await FatalAsync(w, $"GitHub job but {ActionsRunner} is missing from the base image: build the image with kindling images build --flavour github");
            return;
        }

        // As the agent: the JIT config only on run.sh's command line, never in its environment. (The agent also
        // switches to the image's `runner` user; the stub runs everything as the runner's own user.)
        await w.WriteLineAsync($"##kindling[step-start n=0 name={FramingLine.EncodeText("GitHub Actions runner")}]");
        long t0 = Stopwatch.GetTimestamp();
        (int? code, _) = await RunProcessAsync(w, [runner, "--jitconfig", jitConfig], Path.GetDirectoryName(runner)!, "/opt/actions-runner", env, null, null, null, stop);
        if (code is not { } exit)
        {
            return;
        }

        await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"##kindling[step-end n=0 exit={exit} seconds={Stopwatch.GetElapsedTime(t0).TotalSeconds:F2}]"));
        await w.WriteLineAsync(exit == 0 ? "##kindling[job-end result=succeeded exit=0]" : $"##kindling[job-end result=failed exit={exit}]");
    }

    private async Task RunStepsAsync(StreamWriter w, JsonNode job, Dictionary<string, string> env, Task stop)
    {
        string mode = job[MmdsKeys.Job.Mode]?.GetValue<string>() ?? MmdsKeys.Job.ModeAll;
        if (mode is not (MmdsKeys.Job.ModeAll or MmdsKeys.Job.ModeHost))
        {
            await FatalAsync(w, $"job document: unknown mode '{mode}' (all or host)");
            return;
        }

        int count = int.MaxValue;
        if (mode == MmdsKeys.Job.ModeAll)
        {
            if (job[MmdsKeys.Job.StepCount]?.GetValue<string>() is not { } countText)
            {
                await FatalAsync(w, "the job document has no step_count");
                return;
            }

            if (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out count))
            {
                await FatalAsync(w, $"job/step_count '{countText}' is not a number");
                return;
            }
        }

        int timeout = int.TryParse(job[MmdsKeys.Job.TimeoutSeconds]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out int t) ? t : 0;
        (StubGuestIdentity identity, string? identityError) = StubGuestIdentity.For(
            job[MmdsKeys.Job.User]?.GetValue<string>(), job[MmdsKeys.Job.Hostname]?.GetValue<string>(), Environment.IsPrivilegedProcess);
        if (identityError is not null)
        {
            await FatalAsync(w, identityError);
            return;
        }

        _identity = identity;
        _identity.HandOver(_workspace);
        long jobT0 = Stopwatch.GetTimestamp();
        bool failed = false;
        int firstExit = 0;
        for (int n = 0; n < count; n++)
        {
            if (Stopped)
            {
                return; // a dead guest writes nothing more
            }

            JsonNode? step = job[MmdsKeys.Job.Steps]?[n.ToString(CultureInfo.InvariantCulture)];
            if (mode == MmdsKeys.Job.ModeHost)
            {
                (bool end, JsonNode? given, string? error) = await WaitStepAsync(n, stop);
                if (Stopped)
                {
                    return;
                }

                if (error is not null)
                {
                    await FatalAsync(w, error);
                    return;
                }

                if (end)
                {
                    break;
                }

                step = given;
            }

            string Field(string key, string fallback) => step?[key]?.GetValue<string>() ?? fallback;
            string name = Field(MmdsKeys.Step.Name, $"step {n}");
            string cond = Field(MmdsKeys.Step.If, "success()");
            var stepEnv = new Dictionary<string, string>(env);
            foreach ((string k, JsonNode? v) in step?[MmdsKeys.Step.Env]?.AsObject() ?? [])
            {
                if (!ValidName().IsMatch(k))
                {
                    await FatalAsync(w, $"step {n} env name '{k}' is not a valid variable name");
                    return;
                }

                stepEnv[k] = v!.GetValue<string>();
            }

            bool? go = cond switch
            {
                "" or "success()" => !failed,
                "failure()" => failed,
                "always()" => true,
                "cancelled()" => false,
                _ => null,
            };
            string encoded = FramingLine.EncodeText(name);
            if (go == false)
            {
                await w.WriteLineAsync($"##kindling[step-skip n={n} name={encoded} reason=if]");
                continue;
            }

            await w.WriteLineAsync($"##kindling[step-start n={n} name={encoded}]");
            long t0 = Stopwatch.GetTimestamp();
            int code;
            string run = Field(MmdsKeys.Step.Run, "");
            string shellName = Field(MmdsKeys.Step.Shell, "sh");
            (string? script, string? scriptError) = go == true && SecretPlaceholders.Any(run) ? WriteScript(n, run, shellName) : (null, null);
            if (go is null)
            {
                await w.WriteLineAsync($"kindling: step {n}: unsupported if: '{cond}' (use success(), failure(), always() or cancelled())");
                code = 2;
            }
            else if (scriptError is not null)
            {
                go = null; // as the agent: no command files, an empty step-files line
                await w.WriteLineAsync(scriptError);
                code = 2;
            }
            else
            {
                TimeSpan? limit = timeout > 0
                    ? TimeSpan.FromSeconds(Math.Max(1, (int)(timeout - Stopwatch.GetElapsedTime(jobT0).TotalSeconds)))
                    : null;
                string wd = Field(MmdsKeys.Step.WorkingDirectory, "");
                (string hostDir, string guestDir) = wd switch
                {
                    "" => (_workspace, GuestWorkspace),
                    _ when wd.StartsWith('/') => (HostPath(wd), wd),
                    _ => (Path.Combine(_workspace, wd), $"{GuestWorkspace}/{wd}"),
                };
                string[] shell = shellName switch
                {
                    "sh" => ["sh", "-e"],
                    "bash" => ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
                    string other => other.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries),
                };
                string files = OpenStepFiles(n, stepEnv);
                foreach (string d in Field(MmdsKeys.Step.AddPath, "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    // As the agent's add_path: each directory in front of PATH in turn, for this step only.
                    stepEnv["PATH"] = d + ":" + (stepEnv.GetValueOrDefault("PATH") ?? Environment.GetEnvironmentVariable("PATH") ?? "");
                }

                TimeSpan? stepLimit = int.TryParse(Field(MmdsKeys.Step.TimeoutSeconds, "0"), NumberStyles.None, CultureInfo.InvariantCulture, out int sl) && sl > 0
                    ? TimeSpan.FromSeconds(sl) : null;
                using var cancelWait = new CancellationTokenSource();
                Task? cancel = mode == MmdsKeys.Job.ModeHost ? WaitCancelAsync(n, stop, cancelWait.Token) : null;
                if (_identity.Home is { } home)
                {
                    stepEnv["HOME"] = home;
                }

                if (script is not null)
                {
                    stepEnv["KINDLING_STEP_TMP"] = Path.GetDirectoryName(script)!;
                    _identity.HandOver(Path.GetDirectoryName(script)!);
                }

                string[] command = script is null ? [.. shell, "-c", run] : [.. shell, script];
                (int? exit, string? endedBy) = await RunProcessAsync(w, [.. _identity.Prefix, .. command], hostDir, guestDir, stepEnv, limit, stepLimit, cancel, stop);
                RemoveScript(script);
                await cancelWait.CancelAsync();
                if (exit is null)
                {
                    return;
                }

                code = exit.Value;
                string ended = endedBy is null ? "" : $" {FramingLine.StepEndedField}={endedBy}";
                await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"##kindling[step-end n={n} exit={code} seconds={Stopwatch.GetElapsedTime(t0).TotalSeconds:F2}{ended}]"));
                await CloseStepFilesAsync(w, n, files, env);
            }

            if (go is null)
            {
                await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"##kindling[step-end n={n} exit={code} seconds={Stopwatch.GetElapsedTime(t0).TotalSeconds:F2}]"));
                await w.WriteLineAsync($"##kindling[step-files n={n} output= env= path= summary= state=]");
            }

            if (code != 0 && Field(MmdsKeys.Step.ContinueOnError, "false") != "true" && !failed)
            {
                failed = true;
                firstExit = code;
            }
        }

        await w.WriteLineAsync(failed ? $"##kindling[job-end result=failed exit={firstExit}]" : "##kindling[job-end result=succeeded exit=0]");
    }

    /// <summary>
    /// As the agent's wait_step: step <paramref name="n"/>'s document once the runner has put it at
    /// <c>/kindling/steps/N</c> (end: it says doc_end), or the agent's error for a document that holds neither.
    /// </summary>
    private async Task<(bool End, JsonNode? Step, string? Error)> WaitStepAsync(int n, Task stop)
    {
        string key = n.ToString(CultureInfo.InvariantCulture);
        while (!Stopped)
        {
            Task patched;
            string? text;
            lock (_mmdsGate)
            {
                text = _mmds[MmdsKeys.Kindling]?[JobDocument.StepsKey]?[key]?.GetValue<string>();
                patched = _patched.Task;
            }

            if (text is not null)
            {
                JsonNode parsed;
                try
                {
                    parsed = JobDocument.Parse(text)[MmdsKeys.Kindling]!;
                }
                catch (FormatException e)
                {
                    return (false, null, $"/kindling/steps/{n} is not a version 1 job document: {e.Message}");
                }

                return parsed[JobDocument.EndKey] is not null ? (true, null, null)
                    : parsed[MmdsKeys.Root.Job]?[MmdsKeys.Job.Steps]?[key] is { } step ? (false, step, null)
                    : (false, null, $"/kindling/steps/{n} holds neither step {n} nor doc_end");
            }

            await Task.WhenAny(patched, stop);
        }

        return (true, null, null);
    }

    /// <summary>
    /// As the agent's watch_step in mode host: completes once <c>kindling/cancel</c> holds a step number of
    /// <paramref name="n"/> or higher (the runner cancelled the job while step N ran or was handed over).
    /// </summary>
    private async Task WaitCancelAsync(int n, Task stop, CancellationToken ct)
    {
        while (!Stopped && !ct.IsCancellationRequested)
        {
            Task patched;
            string? text;
            lock (_mmdsGate)
            {
                text = _mmds[MmdsKeys.Kindling]?[MmdsKeys.Root.Cancel]?.GetValue<string>();
                patched = _patched.Task;
            }

            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int upTo) && upTo >= n)
            {
                return;
            }

            await Task.WhenAny(patched, stop, Task.Delay(Timeout.Infinite, ct));
        }

        await Task.Delay(Timeout.Infinite, ct); // the VM stopped or the step ended: never a cancel
    }

    /// <summary>
    /// As the agent's step_files_open: five fresh, empty command files for step <paramref name="n"/>, named by
    /// GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY and GITHUB_STATE in the step's environment (over the spec's).
    /// </summary>
    /// <summary>The job's user and hostname (<see cref="StubGuestIdentity"/>), set when its steps start.</summary>
    private StubGuestIdentity _identity = StubGuestIdentity.None;

    private string OpenStepFiles(int n, Dictionary<string, string> stepEnv)
    {
        _filesRoot ??= Directory.CreateTempSubdirectory("kindling-stub-steps-").FullName;
        string dir = Path.Combine(_filesRoot, n.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        foreach ((string variable, string file) in CommandFiles)
        {
            File.WriteAllText(Path.Combine(dir, file), "");
            stepEnv[variable] = Path.Combine(dir, file);
        }

        _identity.HandOver(_filesRoot); // the job's user writes its command files, as the agent's chown

        return dir;
    }

    /// <summary>
    /// As the agent's step_files_close: one step-files line with the five files (secrets masked, base64url), then
    /// $GITHUB_ENV's entries and $GITHUB_PATH's directories become part of the later steps' environment.
    /// </summary>
    private async Task CloseStepFilesAsync(StreamWriter w, int n, string dir, Dictionary<string, string> env)
    {
        string Read(string file) => Mask(File.ReadAllText(Path.Combine(dir, file)));
        await w.WriteLineAsync($"##kindling[step-files n={n} output={Encode(Read("output"))} env={Encode(Read("env"))} path={Encode(Read("path"))} summary={Encode(Read("summary"))} state={Encode(Read("state"))}]");
        foreach ((string k, string v) in GuestCommandFiles.ParseEntries(File.ReadAllText(Path.Combine(dir, "env"))))
        {
            if (ValidName().IsMatch(k))
            {
                env[k] = v;
            }
        }

        foreach (string d in GuestCommandFiles.ParsePath(File.ReadAllText(Path.Combine(dir, "path"))))
        {
            env["PATH"] = d + ":" + (env.GetValueOrDefault("PATH") ?? Environment.GetEnvironmentVariable("PATH") ?? "");
        }
    }

    private static string Encode(string text) => text.Length == 0 ? "" : FramingLine.EncodeText(text);

    /// <summary>The agent's mask for a value: every line of every non-empty secret, longest first, replaced by ***.</summary>
    private string Mask(string text)
    {
        IEnumerable<string> secrets = _secrets.SelectMany(kv => kv.Value!.GetValue<string>().Split('\n'))
            .Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).OrderByDescending(l => l.Length);
        foreach (string secret in secrets)
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }

    private static readonly (string Variable, string File)[] CommandFiles =
        [("GITHUB_OUTPUT", "output"), ("GITHUB_ENV", "env"), ("GITHUB_PATH", "path"), ("GITHUB_STEP_SUMMARY", "summary"), ("GITHUB_STATE", "state")];

    private string? _filesRoot;

    /// <summary>
    /// Runs <paramref name="command"/> in <paramref name="hostDir"/> (the agent's message names
    /// <paramref name="guestDir"/> when it is missing), stdin /dev/null, stderr merged into stdout, each output line
    /// copied to the serial console. Returns its exit code (137 when <paramref name="limit"/>, the job's time left,
    /// killed it), or null when the VM stopped under it; and, as step-end's <c>ended</c> field, whether its own
    /// <paramref name="stepLimit"/> or <paramref name="cancel"/> ended it (the agent sends TERM to the step's process
    /// group and KILL after a grace; the stub kills the process tree at once, so such a step ends with 137).
    /// </summary>
    private async Task<(int? Exit, string? EndedBy)> RunProcessAsync(StreamWriter w, string[] command, string hostDir, string guestDir, Dictionary<string, string> env,
        TimeSpan? limit, TimeSpan? stepLimit, Task? cancel, Task stop)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            WorkingDirectory = _workspace,
        };
        // As the agent's subshell: cd or say why not (exit 2), then exec the command (not found: 127).
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec 2>&1 </dev/null; cd \"$1\" 2>/dev/null || { echo \"kindling: working directory '$2' does not exist\"; exit 2; }; shift 2; exec \"$@\"");
        start.ArgumentList.Add("stub-step");
        start.ArgumentList.Add(hostDir);
        start.ArgumentList.Add(guestDir);
        foreach (string a in command)
        {
            start.ArgumentList.Add(a);
        }

        foreach ((string k, string v) in env)
        {
            start.Environment[k] = v;
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            // e.g. E2BIG: a run script over Linux's 128 KiB limit for one argument fails the same way in the guest.
            await w.WriteLineAsync($"kindling: cannot run {command[0]}: {e.Message}");
            return (ExitCannotRun, null);
        }

        using Process started = process;
        Task copy = CopyOutputAsync(process.StandardOutput, w);
        Task exited = process.WaitForExitAsync(CancellationToken.None);
        Task timedOut = limit is { } l ? Task.Delay(l) : Task.Delay(Timeout.Infinite);
        Task stepTimedOut = stepLimit is { } sl && (limit is null || sl < limit) ? Task.Delay(sl) : Task.Delay(Timeout.Infinite);
        Task first = await Task.WhenAny(exited, timedOut, stepTimedOut, cancel ?? Task.Delay(Timeout.Infinite), stop);
        string? endedBy = null;
        if (first == stepTimedOut)
        {
            endedBy = FramingLine.EndedTimedOut;
            await WriteWhileStepRunsAsync(w, $"kindling: step timed out after {(int)stepLimit!.Value.TotalSeconds} seconds (its timeout_seconds): ending it");
        }
        else if (first == cancel)
        {
            endedBy = FramingLine.EndedCancelled;
            await WriteWhileStepRunsAsync(w, "kindling: the job was cancelled: ending the step");
        }

        if (first != exited)
        {
            KillTree(process);
            await exited;
        }

        await copy;
        if (first == stop || Stopped)
        {
            return (null, null);
        }

        return (first == exited ? process.ExitCode : ExitKilled, endedBy);
    }

    private async Task CopyOutputAsync(StreamReader output, StreamWriter w)
    {
        while (await output.ReadLineAsync() is { } line)
        {
            if (!Stopped)
            {
                // Like the agent's mask(): only the agent's own lines start with ##kindling[ at column 0.
                await WriteWhileStepRunsAsync(w, line.StartsWith("##kindling[", StringComparison.Ordinal) ? " " + line : line);
            }
        }
    }

    private async Task WriteWhileStepRunsAsync(StreamWriter w, string line)
    {
        await _writing.WaitAsync();
        try
        {
            await w.WriteLineAsync(line);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>An absolute guest path on this host: /workspace is the job's workspace, the rest is in the image's files.</summary>
    private string HostPath(string guestPath) =>
        guestPath == GuestWorkspace || guestPath.StartsWith(GuestWorkspace + "/", StringComparison.Ordinal)
            ? _workspace + guestPath[GuestWorkspace.Length..]
            : imageFiles is null ? Path.Combine("/nonexistent-stub-image", guestPath.TrimStart('/')) : Path.Combine(imageFiles, guestPath.TrimStart('/'));

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
    }

    /// <summary>The agent's failure: an error line, then job-end failed with 125.</summary>
    private static async Task FatalAsync(StreamWriter w, string message)
    {
        await w.WriteLineAsync($"##kindling[error message={FramingLine.EncodeText(message)}]");
        await w.WriteLineAsync($"##kindling[job-end result=failed exit={ExitAgentError}]");
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex ValidName();

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex UnsafeIdChars();
}
