using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Cli;

/// <summary>
/// <c>kindling replay</c>: reads the workflows, picks the job, plans it (every input error is reported here, before
/// any VM starts), snapshots the workspace, and runs each selected matrix combination through the daemon's own
/// path — LocalForge → JobStore → JobRunner (overlay, MMDS with the secrets, VMM) → LogPump — streaming the log.
/// The exit code is the job's: 0 when it succeeded, the failing step's exit code otherwise.
/// </summary>
public static class ReplaySession
{
    public const int ExitUsage = 2;
    public const int ExitFailedWithoutCode = 1;
    public const int ExitTimedOut = 124;
    public const int ExitCancelled = 130;
    private const int MaxExitCode = 255;

    public static async Task<int> RunAsync(ReplayOptions o, ReplayConsole io, CancellationToken ct)
    {
        try
        {
            return o.Rerun is { } id ? await RerunAsync(id, o, io, ct) : await ReplayAsync(o, io, ct);
        }
        catch (Exception e) when (e is ReplayException or WorkflowException)
        {
            io.Error.WriteLine($"kindling replay: {e.Message}");
            return ExitUsage;
        }
    }

    private static async Task<int> ReplayAsync(ReplayOptions o, ReplayConsole io, CancellationToken ct)
    {
        string repo = Path.GetFullPath(o.Directory ?? ".", io.CurrentDirectory);
        string path = o.Workflow is { } f ? Path.GetFullPath(f, io.CurrentDirectory)
            : o.Workflows is { } w ? Path.GetFullPath(w, io.CurrentDirectory)
            : Path.Combine(repo, ReplayDefaults.DefaultWorkflowDirectory);
        WorkflowSet set = WorkflowSet.Load(path, io.CurrentDirectory);
        string? actionCache = o.ActionCache is { } ac ? Path.GetFullPath(ac, io.CurrentDirectory) : null;
        if (actionCache is not null && !Directory.Exists(actionCache))
        {
            throw new ReplayException($"--action-cache {o.ActionCache} is not a directory (it holds actions as owner/repo/ref)");
        }

        IReadOnlyDictionary<string, string> localRepositories = RemoteSources.ParseLocalRepositories(o.LocalRepositories, io.CurrentDirectory);
        string? actor = ReplayContexts.ParseActor(o.Actor);
        var remotes = new RemoteSources { ActionCache = actionCache, LocalRepositories = localRepositories };
        set = set with { Workflows = [.. set.Workflows.Select(wf => ReusableWorkflows.Expand(wf, repo, remotes))] };
        foreach (WorkflowException broken in set.Broken)
        {
            io.Error.WriteLine($"warning: skipped {broken.Message}");
        }

        if (set.Workflows.Count == 0)
        {
            throw new ReplayException($"no usable workflow in {path}");
        }

        if (o.EventName is { } only)
        {
            set = set.TriggeredBy(only);
        }

        if (o.List)
        {
            WriteTable(io.Out, set.Listing());
            return 0;
        }

        IReadOnlyList<WorkflowJobRef> jobs = SelectJobs(set, o, io);
        SourceInfo source = await GitSource.ProbeAsync(repo, ct);
        string image = Image(o.Image);
        IReadOnlyDictionary<string, string> secrets = SecretArguments.Resolve(o.Secrets, o.SecretFile ?? Path.Combine(repo, ReplayDefaults.DefaultSecretFile),
            o.SecretFile is not null, io.Environment, io.Prompter);
        IReadOnlyList<KeyValuePair<string, string>> envFile = DotEnv(o.EnvFile, "--env-file", ReplayDefaults.DefaultEnvFile, repo, io);
        IReadOnlyList<KeyValuePair<string, string>> given = [.. DotEnv(o.InputFile, "--input-file", ReplayDefaults.DefaultInputFile, repo, io),
            .. SecretArguments.Pairs(o.Inputs, '=', "--input")];
        ExprValue ev = EventFile(o.EventPath, io);
        var workspaceHash = new WorkspaceHash(source.Root, () => GitSource.WorkspaceFiles(source, o.Worktree));
        List<ReplayJobPlan> plans = [];
        List<(WorkflowJobRef Job, ReplayInputs Inputs)> targets = [];
        int exit = 0;
        foreach (WorkflowJobRef j in jobs)
        {
            var inputs = new ReplayInputs
            {
                Source = source, EventName = o.EventName ?? EventName(ev, j.Workflow), Event = ev, Secrets = secrets,
                Vars = SecretArguments.Pairs(o.Vars, '=', "--var"), EnvFile = envFile, Inputs = given,
                MatrixFilters = SecretArguments.Pairs(o.Matrix, ':', "--matrix"), Image = image, Worktree = o.Worktree, SkipUses = o.SkipUses,
                ContainerImages = [.. SecretArguments.Pairs(o.ContainerImages, '=', "--container-image").Select(kv => KeyValuePair.Create(kv.Key, Image(kv.Value, "--container-image " + kv.Key + "=")))],
                ActionCache = actionCache, LocalRepositories = localRepositories, Actor = actor,
                WorkspaceHash = workspaceHash,
            };
            targets.Add((j, inputs));
            try
            {
                IEnumerable<string> planned = o.DryRun ? [j.Job.Id] : JobGraph.WithNeeds(j.Workflow.Jobs, j.Job.Id).Select(n => n.Id);
                foreach (string id in planned)
                {
                    if (o.DryRun && ReplayPlanner.FindJob(j.Workflow, id) is { CalleeJobs.Count: > 0 } caller)
                    {
                        io.Out.Write(DryRunPrinter.Print(plans));
                        plans.Clear();
                        io.Out.WriteLine($"job {id}: calls the reusable workflow {caller.Uses}: runs as {string.Join(", ", caller.CalleeJobs)}" +
                                         (caller.Outputs.Count > 0 ? $"; outputs: {string.Join(", ", caller.Outputs.Select(kv => $"{kv.Key} = {kv.Value}"))}" : "") + "\n");
                        continue;
                    }

                    try
                    {
                        plans.AddRange(ReplayPlanner.Plan(j.Workflow, id, inputs));
                    }
                    catch (NeedsFirstException) when (!o.DryRun)
                    {
                        // planned (and checked) once the jobs it needs have run
                    }
                    catch (NeedsFirstException e) when (o.DryRun)
                    {
                        // A dry run runs nothing, so it cannot know the needs' outputs: it says when the job is planned.
                        io.Out.Write(DryRunPrinter.Print(plans));
                        plans.Clear();
                        io.Out.WriteLine($"job {id}: planned when its needs have run: {e.Message}\n");
                    }
                }
            }
            catch (ReplayException e) when (jobs.Count > 1)
            {
                // A dry run of every job: one job that cannot be replayed does not hide the others.
                io.Out.Write(DryRunPrinter.Print(plans));
                plans.Clear();
                io.Out.WriteLine($"job {j.Job.Id}: cannot be replayed: {e.Message}\n");
                exit = ExitUsage;
            }
        }

        if (o.DryRun)
        {
            io.Out.Write(DryRunPrinter.Print(plans));
            return exit;
        }

        foreach (ReplayJobPlan p in plans)
        {
            Check(p, o);
        }

        string state = State(o);
        string snapshot = Path.Combine(state, "replay", "workspaces", Guid.NewGuid().ToString("N"));
        io.Error.WriteLine($"workspace: {plans[0].Spec.Origin!.WorkspaceSource} -> {snapshot}");
        await GitSource.SnapshotAsync(source, o.Worktree, snapshot, ct);
        foreach ((string host, string relative) in plans.SelectMany(p => p.Steps).Select(s => s.StageAction).OfType<(string, string)>().Distinct())
        {
            CopyDirectory(host, Path.Combine(snapshot, relative));
        }

        foreach ((string key, string? commit) in plans.SelectMany(p => p.Steps).Select(s => s.CheckoutTree).OfType<(string, string?)>().Distinct())
        {
            await CheckoutStep.StageAsync(source, snapshot, key, commit, ct);
        }

        foreach ((WorkflowJobRef j, ReplayInputs inputs) in targets)
        {
            var run = new WorkflowRun(j.Workflow, inputs, (p, token) => RunPlanAsync(p, snapshot, source.Repository, secrets, image, o, io, token),
                ReplayCapacity(), line => io.Out.WriteLine(line));
            IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync(j.Job.Id, ct);
            foreach ((string id, JobSummary r) in results.Where(r => results.Count > 1))
            {
                io.Out.WriteLine($"job {id}: {r.Result}" + (r.Outputs.Count > 0 ? $" (outputs: {string.Join(", ", r.Outputs.Select(kv => kv.Key))})" : ""));
            }

            if (exit == 0)
            {
                exit = results.Values.FirstOrDefault(r => r.Result == JobResults.Failure)?.ExitCode is { } failed and > 0 ? Math.Min(failed, MaxExitCode)
                    : results.Values.Any(r => r.Result == JobResults.Failure) ? ExitFailedWithoutCode
                    : results.Values.Any(r => r.Result == JobResults.Cancelled) ? ExitCancelled
                    : 0;
            }

            if (ct.IsCancellationRequested)
            {
                break;
            }
        }

        return exit;
    }

    /// <summary>A cached action's files into the workspace snapshot (the guest reads them under /workspace).</summary>
    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }

        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)), overwrite: true);
        }
    }

    /// <summary>How many job VMs a replay runs at once: the host's CPUs over a VM's vCPUs.</summary>
    private static int ReplayCapacity() => Math.Max(1, Environment.ProcessorCount / ReplayDefaults.VmVcpus);

    /// <summary>Runs one planned job (one matrix combination) and reads its steps' outcomes and outputs back from its log.</summary>
    private static async Task<JobOutcome> RunPlanAsync(ReplayJobPlan p, string snapshot, string repository, IReadOnlyDictionary<string, string> secrets,
        string image, ReplayOptions o, ReplayConsole io, CancellationToken ct)
    {
        SpecResult r;
        var source = new ReplayStepSource(p);
        try
        {
            r = await RunSpecResultAsync(p.Spec with { Workspace = snapshot }, p.Labels, repository, secrets, p.Warnings,
                p.Total > 1 ? $" [matrix {p.Index}/{p.Total}]" : "", p.Container?.Flavour ?? image, o, io, ct, source);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return JobOutcome.Cancelled;
        }

        IEnumerable<string> log = r.LogPath is { } path && File.Exists(path) ? File.ReadLines(path) : [];
        return new JobOutcome
        {
            Result = r.State switch
            {
                JobState.Succeeded => JobResults.Success,
                JobState.Cancelled => JobResults.Cancelled,
                _ when r.ExitCode == ExitCancelled => JobResults.Cancelled,
                _ => JobResults.Failure,
            },
            ExitCode = r.ExitCode,
            Steps = JobLogOutcome.Read(log, p, source.Steps),
        };
    }

    /// <summary>A job run's end: its state, the process exit code it stands for, its log.</summary>
    private sealed record SpecResult(JobState? State, int ExitCode, string? LogPath);

    private static async Task<int> RerunAsync(long id, ReplayOptions o, ReplayConsole io, CancellationToken ct)
    {
        string state = State(o);
        JobRecord job;
        JobSpec spec;
        var store = new JobStore(Path.Combine(state, "kindling.db"), TimeProvider.System);
        try
        {
            if (store.Get(id) is not { } found)
            {
                string recent = string.Join(", ", store.List(ReplayDefaults.Tenant, limit: 5).Select(j => $"{j.Id} ({j.Name})"));
                throw new ReplayException($"there is no job {id} in {store.DatabasePath}" + (recent.Length > 0 ? $"; recent replays: {recent}" : ""));
            }

            job = found;
            if (job.Forge != "local" || job.SpecJson is null)
            {
                throw new ReplayException($"job {id} is a {job.Forge} job run by the forge's own runner; only local (replay, demo) jobs can be rerun");
            }

            spec = JobSpec.FromJson(job.SpecJson);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }

        if (spec.Workspace is { } ws && !Directory.Exists(ws))
        {
            throw new ReplayException($"job {id}'s workspace snapshot {ws} is gone; replay the workflow instead");
        }

        string repo = Path.GetFullPath(o.Directory ?? ".", io.CurrentDirectory);
        IReadOnlyDictionary<string, string> secrets = SecretArguments.Resolve(o.Secrets, o.SecretFile ?? Path.Combine(repo, ReplayDefaults.DefaultSecretFile),
            o.SecretFile is not null, io.Environment, io.Prompter);
        string[] missing = [.. spec.SecretRefs.Values.SelectMany(p => p).Select(p => p.Secret).OfType<string>().Distinct().Where(s => !secrets.ContainsKey(s))];
        if (missing.Length > 0)
        {
            throw new ReplayException($"job {id} reads secret(s) {string.Join(", ", missing)} (values are never stored): pass them again, e.g. " +
                                      string.Join(" ", missing.Select(m => "-s " + m)));
        }

        string image = o.Image is null ? Image(spec.Origin?.Image) : Image(o.Image);
        io.Error.WriteLine($"rerunning job {id} ({job.Name}{(spec.Origin is { } origin ? $", {origin.WorkflowFile} job {origin.JobId}" : "")}) in a fresh VM");
        return await RunSpecAsync(spec, job.Labels, job.Repository, secrets, [], "", image, o, io, ct);
    }

    /// <summary>Runs one job spec through the daemon's job path in a host of its own; returns the exit code.</summary>
    private static async Task<int> RunSpecAsync(JobSpec spec, IReadOnlyList<string> labels, string repository, IReadOnlyDictionary<string, string> secrets,
        IReadOnlyList<string> warnings, string matrixLabel, string image, ReplayOptions o, ReplayConsole io, CancellationToken ct) =>
        (await RunSpecResultAsync(spec, labels, repository, secrets, warnings, matrixLabel, image, o, io, ct)).ExitCode;

    private static async Task<SpecResult> RunSpecResultAsync(JobSpec spec, IReadOnlyList<string> labels, string repository, IReadOnlyDictionary<string, string> secrets,
        IReadOnlyList<string> warnings, string matrixLabel, string image, ReplayOptions o, ReplayConsole io, CancellationToken ct, IHostStepSource? steps = null)
    {
        string state = State(o);
        Directory.CreateDirectory(state);
        KeptOverlayImageProvider? keep = null;
        bool buildsImages = false;
        WebApplication app = RunnerHost.Build(HostConfig(state, labels, secrets, o.Launcher), configFile: null, runDaemon: false, services =>
        {
            io.Services?.Invoke(services);
            if (services.Any(d => d.ServiceType == typeof(IImageProvider)))
            {
                return;
            }

            IImageProvider images = o.Launcher == "stub"
                ? new PlaceholderImageProvider(Path.Combine(state, "images"))
                : ImageStoreProvider.ForStateDirectory(state, Kindling.Images.Rootfs.FlavourNames.Parse(image));
            buildsImages = o.Launcher != "stub";
            if (o.Keep)
            {
                images = keep = new KeptOverlayImageProvider(images, Path.Combine(state, "replay", "kept"));
            }

            services.AddSingleton(images);
        });
        try
        {
            try
            {
                _ = app.Services.GetRequiredService<IOptions<KindlingOptions>>().Value;
            }
            catch (OptionsValidationException e)
            {
                throw new ReplayException("invalid runner settings: " + string.Join("; ", e.Failures));
            }

            if (buildsImages && await HostSetup.ForThisHost(io.Error).EnsureAsync("kindling replay",
                    [.. HostSetup.ForImages(Kindling.Images.Rootfs.FlavourNames.Parse(image)), .. Environment.IsPrivilegedProcess ? HostSetup.VmPackages : []], ct) is { } setup)
            {
                throw new ReplayException(setup);
            }

            if (o.Launcher != "stub")
            {
                await EnsureImagesAsync(app.Services.GetRequiredService<IImageProvider>(), io, ct);
            }

            var forge = (LocalForge)app.Services.GetRequiredService<ForgeRegistry>().For(ReplayDefaults.Tenant);
            var dispatcher = app.Services.GetRequiredService<JobDispatcher>();
            var store = app.Services.GetRequiredService<JobStore>();
            // a replayed job's step list grows where it loads an action written at run time
            var observer = new ReplayConsoleObserver(io.Out, steps is ReplayStepSource grows ? () => grows.Steps.Count : () => spec.Steps.Count);
            app.Services.GetRequiredService<JobRunner>().LiveObserver = _ => observer;
            app.Services.GetRequiredService<JobRunner>().StepSource = _ => steps; // null (a rerun): the stored spec's steps as they are

            string forgeJobId = forge.Submit(spec, labels, repository);
            await dispatcher.PollAsync(ct);
            JobRecord job = store.FindByForgeJob(forge.Kind, forgeJobId)
                            ?? throw new ReplayException($"the job was not recorded (runs-on {string.Join(", ", labels)} matched no pool)");
            string how = o.Launcher == "stub" ? "stub launcher: a simulated guest, no microVM" : $"microVM, image {image}";
            io.Out.WriteLine($"kindling replay: {spec.Name}{matrixLabel} -> job {job.Id} ({how})");
            foreach (string w in warnings)
            {
                io.Out.WriteLine($"warning: {w}");
            }

            await dispatcher.RunNowAsync(job.Id, ct);
            JobRecord done = store.Get(job.Id)!;
            JobTransition result = store.Transitions(job.Id).Last(t => t.To != JobState.Cleaned);
            if (!observer.Started)
            {
                foreach (string line in observer.BootTail)
                {
                    io.Out.WriteLine("  | " + line);
                }
            }

            int exit = ExitCode(result.To, done.ExitCode, ct.IsCancellationRequested);
            foreach (string line in ReplayStepSummary.Lines(store.Steps(job.Id)))
            {
                io.Out.WriteLine(line);
            }

            io.Out.WriteLine($"job {job.Id} {JobLifecycle.Name(result.To)} (exit {exit}): {result.Reason}");
            if (result.To != JobState.Succeeded && o.Launcher != "stub" && DemoCommand.KvmNote() is { } note)
            {
                io.Out.WriteLine($"note: {note}");
            }

            io.Out.WriteLine($"log: {done.LogPath}");
            if (JobPhases.Load(JobPhases.PathFor(state, job.Id)) is { Count: > 0 } phases)
            {
                io.Out.WriteLine($"phases: {JobPhases.Summary(phases)}");
            }

            foreach (string kept in keep?.Kept ?? [])
            {
                io.Out.WriteLine($"kept the job's overlay disk: {kept} (its upper/workspace is the workspace after the job; mount -o loop,ro)");
            }

            io.Out.WriteLine($"rerun: kindling replay --rerun {job.Id}{(o.State is null ? "" : $" --state {o.State}")}");
            return new SpecResult(result.To, exit, done.LogPath);
        }
        catch (ImagesUnavailableException e)
        {
            io.Error.WriteLine($"kindling replay: guest images unavailable: {e.Message}");
            return new SpecResult(null, ExitFailedWithoutCode, null);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    /// <summary>The replay's own runner settings: one local tenant holding this run's secrets (in memory only), one pool for its labels.</summary>
    public static Dictionary<string, string?> HostConfig(string state, IReadOnlyList<string> labels, IReadOnlyDictionary<string, string> secrets, string launcher)
    {
        var c = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Kindling:StateDirectory"] = state,
            ["Kindling:Host:Vcpus"] = Math.Max(Environment.ProcessorCount, ReplayDefaults.VmVcpus).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kindling:Host:MemoryMib"] = ReplayDefaults.VmMemoryMib.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kindling:Pools:0:Name"] = ReplayDefaults.Tenant,
            ["Kindling:Pools:0:Vcpus"] = ReplayDefaults.VmVcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kindling:Pools:0:MemoryMib"] = ReplayDefaults.VmMemoryMib.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kindling:Tenants:0:Name"] = ReplayDefaults.Tenant,
            ["Kindling:Tenants:0:Forge:Kind"] = "local",
            ["Kindling:Tenants:0:Quota:Vcpus"] = ReplayDefaults.VmVcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kindling:Tenants:0:Quota:MemoryMib"] = ReplayDefaults.VmMemoryMib.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kindling:Launcher:Kind"] = launcher,
            ["Kindling:Launcher:Network"] = launcher == "vmm" && Environment.UserName == "root" ? "true" : "false",
            ["Kindling:Launcher:StubJobDuration"] = "00:00:00",
            ["Kindling:Web:Url"] = "http://127.0.0.1:0",
        };
        for (int i = 0; i < labels.Count; i++)
        {
            c[$"Kindling:Pools:0:Labels:{i}"] = labels[i];
        }

        foreach ((string name, string value) in secrets)
        {
            c[$"Kindling:Tenants:0:Secrets:{name}:Value"] = value;
        }

        return c;
    }

    /// <summary>The process exit code for a job result: 0, the failing step's code, 124 timed out, 130 interrupted.</summary>
    public static int ExitCode(JobState result, int? jobExit, bool interrupted) => result switch
    {
        JobState.Succeeded => 0,
        JobState.TimedOut => ExitTimedOut,
        JobState.Cancelled => ExitCancelled,
        _ when interrupted => ExitCancelled,
        _ => jobExit is { } e and > 0 ? Math.Min(e, MaxExitCode) : ExitFailedWithoutCode,
    };

    private static void Check(ReplayJobPlan p, ReplayOptions o)
    {
        string who = $"job {p.Job.Id}" + (p.Matrix.IsEmpty ? "" : $" ({p.Matrix})");
        if (p.MissingSecrets.Count > 0)
        {
            throw new ReplayException(
                $"{who} reads secret(s) {string.Join(", ", p.MissingSecrets)}, which were not given: pass " +
                string.Join(" ", p.MissingSecrets.Select(s => $"-s {s}")) + " (value from the environment or asked for), -s NAME=VALUE, or --secret-file FILE");
        }

        if (p.UnsupportedSteps.Count > 0 && !o.SkipUses)
        {
            throw new ReplayException(
                $"{who} has steps that use actions, which replay does not run yet: " +
                string.Join("; ", p.UnsupportedSteps.Select(s => $"step {s.Number} '{s.Name}' ({s.Uses}: {s.UnsupportedReason ?? "not supported yet"})")) +
                ". Replace them with run: steps, or pass --skip-uses to run the job without them (each is reported as skipped)");
        }
    }

    internal static IReadOnlyList<WorkflowJobRef> SelectJobs(WorkflowSet set, ReplayOptions o, ReplayConsole io)
    {
        if (o.Job is { } id)
        {
            return [set.Find(id)];
        }

        IReadOnlyList<WorkflowJobRef> all = set.Jobs;
        if (all.Count == 1 || o.DryRun)
        {
            return all;
        }

        string[] names = [.. all.Select(set.Name)];
        if (io.Prompter.IsInteractive)
        {
            return [all[io.Prompter.Choose("Which job?", names)]];
        }

        throw new ReplayException($"there are {all.Count} jobs; pick one with -j: {string.Join(", ", names)}");
    }

    private static string Image(string? image, string option = "--image ") => image switch
    {
        null => ReplayDefaults.MinimalImage,
        ReplayDefaults.MinimalImage or ReplayDefaults.DebianImage => image,
        _ => throw new ReplayException($"{option}{image}: use {ReplayDefaults.MinimalImage} (busybox, boots fastest) or {ReplayDefaults.DebianImage} (bash, apt, a Debian userland)"),
    };

    private static string State(ReplayOptions o) => Path.GetFullPath(o.State ?? KindlingServices.DefaultStateDirectory());

    /// <summary>A .env-format file given with <paramref name="flag"/>, or its default in the repository when that exists.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> DotEnv(string? given, string flag, string defaultName, string repo, ReplayConsole io)
    {
        string file = given is { } f ? Path.GetFullPath(f, io.CurrentDirectory) : Path.Combine(repo, defaultName);
        if (!File.Exists(file))
        {
            return given is null ? [] : throw new ReplayException($"{flag} {given} does not exist");
        }

        return DotEnvFile.Load(file, io.Environment);
    }

    private static ExprValue EventFile(string? path, ReplayConsole io)
    {
        if (path is null)
        {
            return ExprValue.Object([]);
        }

        string full = Path.GetFullPath(path, io.CurrentDirectory);
        try
        {
            return JsonNode.Parse(File.ReadAllText(full)) is JsonObject o
                ? ExprValue.FromJson(o)
                : throw new ReplayException($"-e {path}: the event must be a JSON object (a webhook payload)");
        }
        catch (JsonException e)
        {
            throw new ReplayException($"-e {path}: invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message.Split(" Path:")[0]}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayException($"-e {path}: {e.Message}");
        }
    }

    /// <summary>github.event_name when --event-name is not given: from the payload's shape, else the workflow's push (or first) trigger.</summary>
    public static string EventName(ExprValue ev, Workflow wf)
    {
        if (ev.Members.ContainsKey("pull_request")) return "pull_request";
        if (ev.Members.ContainsKey("inputs")) return "workflow_dispatch";
        return wf.Events.Contains("push") || wf.Events.Count == 0 ? "push" : wf.Events[0];
    }

    private static async Task EnsureImagesAsync(IImageProvider images, ReplayConsole io, CancellationToken ct)
    {
        string last = "";
        await images.EnsureImagesAsync(new SyncProgress(p =>
        {
            if (p.Stage != last)
            {
                last = p.Stage;
                io.Error.WriteLine($"images: {p.Stage}");
            }
        }), ct);
    }

    private static void WriteTable(TextWriter w, IReadOnlyList<string[]> rows)
    {
        int[] widths = [.. Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length))];
        foreach (string[] r in rows)
        {
            w.WriteLine(string.Join("  ", r.Select((cell, c) => c == r.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd());
        }
    }

    private sealed class SyncProgress(Action<ImageProgress> report) : IProgress<ImageProgress>
    {
        public void Report(ImageProgress value) => report(value);
    }
}
