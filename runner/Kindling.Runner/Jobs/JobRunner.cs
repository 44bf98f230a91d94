using System.Diagnostics;
using System.Text.Json.Nodes;
using Kindling.Images.Guest;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Runner.Logs;
using Kindling.Runner.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Jobs;

/// <summary>
/// Runs one admitted job (state preparing) to the end: work directory, JIT runner, overlay, TAP, FIFO, VM
/// config, VMM spawn with the job in MMDS, LogPump, result; then teardown and cleaned. Every failure path ends
/// in a finished state with the reason and goes through the same teardown. Resources are recorded in the
/// JobStore before they are created, so the reaper finds them after a crash.
/// </summary>
public sealed partial class JobRunner(
    IOptions<KindlingOptions> options,
    JobStore store,
    ForgeRegistry forges,
    IImageProvider images,
    IVmLauncher launcher,
    ITapManager taps,
    Network.IGuestNetworkService network,
    JobTeardown teardown,
    KindlingMetrics metrics,
    JobCancellations cancellations,
    TimeProvider time,
    ILogger<JobRunner> log,
    WarmPool? warm = null)
{
    /// <summary>How long the log pump may take to drain the serial FIFO once the VM is gone.</summary>
    public static readonly TimeSpan PumpDrain = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a cancelled host-driven job has, once the agent has ended the step it ran, for its if: always() and
    /// cancelled() steps (GitHub's cancel-timeout-minutes default); then, or at a second cancel, the VM is stopped.
    /// </summary>
    public TimeSpan CancelGrace { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Attempts at preparing a job while its forge is unavailable before the job fails.</summary>
    public const int MaxPrepareAttempts = 10;

    /// <summary>Raised when a VMM process exists (benchmarks measure poll → spawn with it).</summary>
    public event Action<long>? VmSpawned;

    /// <summary>Observer for live log lines (the admin page's tail); optional.</summary>
    public Func<long, ILogObserver?>? LiveObserver { get; set; }

    /// <summary>Who decides a job's steps at step time (replay: expressions over outputs and $GITHUB_ENV); null or none: the spec's steps as they are.</summary>
    public Func<long, IHostStepSource?>? StepSource { get; set; }

    public async Task<JobState> RunAsync(long jobId, CancellationToken stopping)
    {
        KindlingOptions o = options.Value;
        JobRecord job = store.Get(jobId) ?? throw new KeyNotFoundException($"job {jobId}");
        IForge forge = forges.ForJob(job.Tenant, job.Forge);
        (TenantOptions tenant, int tenantIndex) = ForgeRegistry.Tenant(o, job.Tenant);
        JobSpec? spec = job.SpecJson is null ? null : JobSpec.FromJson(job.SpecJson);
        TimeSpan timeout = spec?.Timeout ?? o.JobTimeout;
        JobWorkspace ws = JobWorkspace.For(o.StateDirectory, job.Id);
        GuestNetwork? net = o.Launcher.Network ? GuestNetwork.For(job.Id) : null;
        string logPath = JobWorkspace.LogPath(o.StateDirectory, job.Id);
        string vmId = JobWorkspace.VmId(job.Id);
        string runnerName = RunnerNames.For(job.ForgeJobId);
        store.SetResources(job.Id, new JobResources
        {
            WorkDir = ws.Directory, VmId = vmId, TapName = net?.TapName, LogPath = logPath, RunnerName = runnerName,
        });

        using var timeoutCts = new CancellationTokenSource(timeout, time);
        using var forgeCancel = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeoutCts.Token, forgeCancel.Token);
        CancellationToken ct = linked.Token;
        (JobState State, string Reason, int? Exit) outcome;
        string stage = "preparing";
        var cancelReason = new System.Runtime.CompilerServices.StrongBox<string?>();
        HostStepLoop? steps = null;
        string? cancelledDuring = null;
        int cancels = 0;
        ITimer? cancelGrace = null;
        void StopVm()
        {
            try
            {
                forgeCancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // the job ended while the cancel was on its way
            }
        }

        using IDisposable cancellable = cancellations.Register(job.Id, reason =>
        {
            cancelReason.Value ??= reason;
            // A host-driven job running its steps ends the current step first, so its if: always() and cancelled()
            // steps still run (within CancelGrace); a second cancel, or a job elsewhere in its life, stops the VM now.
            if (Interlocked.Increment(ref cancels) == 1 && steps is { CanCancelSteps: true } loop)
            {
                cancelledDuring = DuringStep(loop);
                cancelGrace = time.CreateTimer(_ => StopVm(), null, CancelGrace, Timeout.InfiniteTimeSpan);
                _ = loop.CancelAsync(CancellationToken.None).ContinueWith(t =>
                {
                    if (!t.Result)
                    {
                        StopVm();
                    }
                }, TaskScheduler.Default);
                return;
            }

            StopVm();
        });
        IVmHandle? vm = null;
        WarmSlot? slot = null;
        JobLogObserver? observer = null;
        JobPhases? phases = null;
        Task? pump = null;
        using var pumpStop = new CancellationTokenSource();
        string? forgeUnavailable = null;
        try
        {
            Directory.CreateDirectory(ws.Directory);
            Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
            GuestImages guest = await images.EnsureImagesAsync(null, ct);
            IReadOnlyDictionary<string, string> secrets = SecretResolver.Derive(
                SecretResolver.Resolve(tenant, tenantIndex), spec?.SecretRefs, tenant.Name, tenantIndex);
            PoolOptions pool = LabelMatcher.Match(job.Labels, o.Pools) ?? o.Pools[0];
            RunnerRegistration? registration = await forge.RegisterRunnerAsync(job.ForgeRef(), runnerName, pool.Labels, ct);
            if (registration is not null)
            {
                store.SetResources(job.Id, new JobResources { RunnerId = registration.RunnerId });
            }

            if (spec?.Workspace is { } source)
            {
                StageWorkspace(source, ws);
            }

            // A warm slot of the job's pool: its folder, overlay, FIFO, TAP and paused VM become the job's (not for a
            // job that brings a workspace: its overlay is built from it).
            slot = spec?.Workspace is null ? TakeSlot(pool, job, guest, ws, net) : null;
            string overlay;
            if (slot is not null)
            {
                vm = slot.Handle; // from here the job's: killed at its end whatever happens
                vmId = slot.VmId;
                overlay = slot.MoveTo(ws);
                net = slot.NetworkFor(net);
            }
            else
            {
                overlay = await images.CreateOverlayAsync(ws.Directory, ct);
                FdIo.MakeFifo(ws.SerialFifoPath);
            }

            if (net is not null)
            {
                await (slot is null ? taps.CreateAsync(net, ct) : taps.AddressAsync(net, ct));
                await network.AddVmAsync(net.Link, job.Tenant, ct);
            }

            phases = new JobPhases(time, LiveObserver?.Invoke(job.Id));
            observer = new JobLogObserver(store, job.Id, phases, time);
            // Host-driven steps where the job has steps and the VM's MMDS can change after boot; else all steps in the document.
            steps = spec is not null && registration is null && launcher.PatchesMmds
                ? new HostStepLoop(StepSource?.Invoke(job.Id) ?? new SpecStepSource(spec), observer, spec.Env)
                : null;
            JsonObject tree = MmdsTree.Build(job.Id, job.Name, timeout, spec, secrets, registration?.EncodedJitConfig, net,
                steps is null ? Kindling.Vmm.Contract.MmdsKeys.Job.ModeAll : Kindling.Vmm.Contract.MmdsKeys.Job.ModeHost, time.GetUtcNow(), o.StepStopGrace);
            var request = new VmLaunchRequest(
                vmId, ws,
                VmConfigBuilder.Build(guest, overlay, job.Vcpus, job.MemoryMib, ws, net),
                steps?.FirstMmds(tree) ?? JobDocument.Mmds(tree));
            await SaveVmConfigAsync(JobWorkspace.VmConfigRecordPath(o.StateDirectory, job.Id), request.VmConfig, ct);
            var logPump = new LogPump(new SecretMasker([.. secrets.Values, .. registration is null ? [] : new[] { registration.EncodedJitConfig }]), (ILogObserver?)steps ?? observer)
            {
                // Workflow commands on a step's output (::set-output, ::add-mask, …): the runner's in host-driven jobs.
                Commands = steps is null ? null : new WorkflowCommandReader(),
                UnsecureCommandsAllowed = steps is null ? null : steps.UnsecureCommandsAllowed,
            };
            (JobState, string, int?) FromJobEnd(JobEnd end) => end.Succeeded
                ? (JobState.Succeeded, "job-end result=succeeded", 0)
                : (JobState.Failed, observer!.AgentError is { } err ? $"agent error: {err}" : $"job-end result=failed exit={end.ExitCode}", end.ExitCode);
            Move(job.Id, JobState.Preparing, JobState.Booting, "VM configured; starting the VMM");
            stage = "booting";
            // Open before the VM exists (a non-blocking open: no writer needed), read by the shared epoll thread.
#pragma warning disable CA2000 // PumpAsync owns the stream from here (await using), on every path
            pump = PumpAsync(logPump, SerialFifoStream.Open(ws.SerialFifoPath), logPath, pumpStop.Token);
#pragma warning restore CA2000

            long spawnStart = Stopwatch.GetTimestamp();
            if (slot is not null)
            {
                await slot.ReleaseSerialAsync(); // the log pump reads the console from here
                VmSpawned?.Invoke(job.Id);
                vm = await warm!.ResumeAsync(slot, request, ct);
            }
            else
            {
                vm = await launcher.LaunchAsync(request, pid =>
                {
                    store.SetResources(job.Id, new JobResources { VmmPid = pid });
                    VmSpawned?.Invoke(job.Id);
                }, ct);
            }

            phases.Mark(slot is not null ? JobPhases.WarmSlot : vm.Restored ? JobPhases.Restore : JobPhases.Boot);
            if (slot is null && vm.Restored && net is not null)
            {
                // A restored guest has the golden guest's MAC (a snapshot holds it): its TAP's elements say so.
                net = net with { GuestMac = GuestNetwork.SnapshotMac };
                await network.AddVmAsync(net.Link, job.Tenant, ct);
            }

            _ = Watch(job, forge, forgeCancel, cancelReason, ct);
            _ = steps?.RunAsync(vm, ct);
            Task stepFailed = (Task?)steps?.Failed ?? Task.Delay(Timeout.Infinite, ct);

            using var bootLimit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Task booted = Task.Delay(o.Launcher.BootTimeout, time, bootLimit.Token);
            Task started = await Task.WhenAny(observer.JobStarted.Task, vm.Exited, booted, Task.Delay(Timeout.Infinite, ct));
            await bootLimit.CancelAsync();
            if (started == observer.JobStarted.Task)
            {
                metrics.BootTime(Stopwatch.GetElapsedTime(spawnStart));
                Move(job.Id, JobState.Booting, JobState.Running, "guest agent started the job");
                stage = "running";
            }
            else if (started == booted && booted.IsCompletedSuccessfully && !observer.JobStarted.Task.IsCompleted && !vm.Exited.IsCompleted)
            {
                // Launcher:BootTimeout: the VM is ended below, as after any other failure, and its room freed now.
                throw new BootTimedOutException($"the guest agent did not start the job within {o.Launcher.BootTimeout} of the VM's start " +
                                                $"(Launcher:BootTimeout; the guest's console is in {logPath})");
            }

            // Cancelled through its steps: the agent ended the step it ran, and the steps a cancelled job runs have run.
            (JobState, string, int?) Ended(JobEnd end) => steps is { Cancelled: true }
                ? (JobState.Cancelled, (cancelReason.Value ?? "cancelled") + cancelledDuring, end.ExitCode)
                : FromJobEnd(end);
            Task ended = await Task.WhenAny(observer.JobEnded.Task, vm.Exited, stepFailed, Task.Delay(Timeout.Infinite, ct));
            if (ended == observer.JobEnded.Task)
            {
                // The agent syncs the overlay before job-end: the VM is ended now, not when its reboot gets there.
                outcome = Ended(observer.JobEnded.Task.Result);
            }
            else if (ended == stepFailed && !vm.Exited.IsCompleted)
            {
                // The next step could not be handed over (the VMM's API refused the PATCH): the guest would wait for it.
                outcome = (JobState.Failed, $"handing the guest its next step failed: {steps!.Failed.Result}", null);
            }
            else if (vm.Exited.IsCompleted)
            {
                // The VM may exit before the log pump has delivered the agent's last lines: same outcome either way. The
                // pump ends by itself once the gone VM's FIFO is drained, so waiting for it costs nothing when it is quick,
                // and a host that is busy (its job database restarting) gets the time to deliver them.
                await Task.WhenAny(pump, Task.Delay(PumpDrain, time, CancellationToken.None));
                outcome = observer.JobEnded.Task.IsCompleted
                    ? Ended(observer.JobEnded.Task.Result)
                    : (JobState.Failed, $"the VM exited with code {vm.Exited.Result} while {stage}, before the job ended (see {logPath})", null);
            }
            else
            {
                ct.ThrowIfCancellationRequested();
                outcome = (JobState.Failed, "unreachable", null);
            }
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested)
        {
            outcome = (stage == "preparing" ? JobState.Failed : JobState.TimedOut, $"timed out after {timeout} while {stage}" + DuringStep(steps), null);
        }
        catch (BootTimedOutException e)
        {
            outcome = (JobState.Failed, e.Message, null);
        }
        catch (OperationCanceledException) when (forgeCancel.IsCancellationRequested)
        {
            outcome = (JobState.Cancelled, (cancelReason.Value ?? "cancelled on the forge") + DuringStep(steps), null);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            outcome = (JobState.Failed, $"the runner stopped while the job was {stage}", null);
        }
        catch (ForgeUnavailableException e) when (stage == "preparing")
        {
            // Nothing ran and the forge job still waits there: try again later rather than lose it.
            LogForgeUnavailable(log, job.Id, job.Attempt, e.Message);
            forgeUnavailable = e.Message;
            outcome = (JobState.Failed, $"preparing failed after {job.Attempt} attempts: {e.Message}", null);
        }
        catch (Exception e) when (e is VmLaunchException or ImagesUnavailableException or IOException or SecretUnavailableException)
        {
            // Expected failures whose message already says what to fix: no stack trace in the operator's log.
            LogFailedBecause(log, job.Id, stage, e.Message);
            outcome = (JobState.Failed, $"{stage} failed: {e.Message}", null);
        }
        catch (Exception e)
        {
            LogFailed(log, e, job.Id, stage);
            outcome = (JobState.Failed, $"{stage} failed: {e.Message}", null);
        }

        if (cancelGrace is not null)
        {
            await cancelGrace.DisposeAsync();
        }

        warm?.Unclaim(job.Id); // a slot claimed for the job and not taken goes to the next job
        if (slot is not null)
        {
            await slot.ReleaseSerialAsync();
        }

        if (vm is not null && !vm.Exited.IsCompleted)
        {
            await vm.KillAsync();
        }

        if (pump is not null && !pump.IsCompleted)
        {
            // The VM is gone: its hang-up ends the pump once the FIFO is drained. A writer left behind is cut off,
            // and without a VM (the launch failed) there is nothing to drain.
            if (vm is not null)
            {
                await Task.WhenAny(pump, Task.Delay(PumpDrain, time, CancellationToken.None));
            }

            await pumpStop.CancelAsync();
            await Task.WhenAny(pump);
        }

        if (vm is not null)
        {
            await vm.DisposeAsync();
            phases?.Mark("reset");
        }

        if (phases is not null)
        {
            await SavePhasesAsync(phases, JobPhases.PathFor(o.StateDirectory, job.Id));
        }

        if (observer is not null)
        {
            await observer.Flushed; // the steps are in the store before the job's result is
        }

        if (steps?.Annotations is (var warnings, var errors) && warnings + errors > 0)
        {
            outcome.Reason += $" ({warnings} warning and {errors} error annotations: ::warning/::error in the log)";
        }

        if (forgeUnavailable is not null && job.Attempt < MaxPrepareAttempts && await TryRequeueAsync(job.Id, forgeUnavailable))
        {
            return JobState.Queued;
        }

        return await FinishAsync(job.Id, outcome.State, outcome.Reason, outcome.Exit);
    }

    /// <summary>
    /// A ready warm slot of the job's pool when its pool keeps them and the slot was restored from the snapshot of the
    /// job's VM; its VM, pid and TAP are recorded as the job's before the pool lets go of it.
    /// </summary>
    private WarmSlot? TakeSlot(PoolOptions pool, JobRecord job, GuestImages guest, JobWorkspace ws, GuestNetwork? net)
    {
        if (warm is not { Enabled: true })
        {
            return null;
        }

        var key = SnapshotKey.For(VmConfigBuilder.Build(guest, "", job.Vcpus, job.MemoryMib, ws, net));
        return warm.Take(pool.Name, job.Id, key, s =>
            store.SetResources(job.Id, new JobResources { VmId = s.VmId, VmmPid = s.Pid, TapName = s.Network?.TapName }));
    }

    /// <summary>", during step N (name)" for a host-driven job that was running a step, else "".</summary>
    private static string DuringStep(HostStepLoop? steps) =>
        steps?.Current is { } c ? $", during step {c.Number} ({c.Name})" : "";

    private static async Task PumpAsync(LogPump logPump, SerialFifoStream fifo, string logPath, CancellationToken ct)
    {
        await using (fifo)
        {
            await logPump.RunAsync(fifo, logPath, ct);
        }
    }

    /// <summary>Releases what a preparing job holds and puts it back in the queue; false when that fails.</summary>
    private async Task<bool> TryRequeueAsync(long jobId, string why)
    {
        JobRecord job = store.Get(jobId)!;
        try
        {
            await teardown.ReleaseAsync(job, CancellationToken.None);
            Move(jobId, JobState.Preparing, JobState.Queued, $"re-queued: {why} (attempt {job.Attempt} of {MaxPrepareAttempts})");
            return true;
        }
        catch (Exception e)
        {
            LogTeardownFailed(log, e, jobId);
            return false;
        }
    }

    /// <summary>Copies the job's workspace (a replay's snapshot) to where the image provider builds the overlay from.</summary>
    private static void StageWorkspace(string source, JobWorkspace ws)
    {
        if (!Directory.Exists(source))
        {
            throw new IOException($"the job's workspace {source} no longer exists (deleted?); replay the workflow instead of rerunning this job");
        }

        string target = Path.Combine(ws.Directory, ImageStoreProvider.WorkspaceFolder);
        if (Directory.Exists(target))
        {
            Directory.Delete(target, recursive: true); // a previous attempt's copy
        }

        WorkspaceTree.Copy(source, target);
    }

    /// <summary>Moves a job to its result, tears it down and marks it cleaned (teardown errors leave it for the reaper).</summary>
    public async Task<JobState> FinishAsync(long jobId, JobState result, string reason, int? exit)
    {
        JobRecord job = store.Get(jobId)!;
        if (job.State == JobState.Booting && result is JobState.Succeeded)
        {
            job = Move(jobId, JobState.Booting, JobState.Running, "job-end seen before job-start");
        }

        if (!JobLifecycle.IsFinished(job.State))
        {
            job = Move(jobId, job.State, result, reason, exit);
        }

        try
        {
            await teardown.ReleaseAsync(job, CancellationToken.None);
            if (forges.TryGetForJob(job.Tenant, job.Forge, out IForge forge) && ForgeJobs.ForgeResult(job.State) is { } outcome)
            {
                await forge.ReportResultAsync(job.ForgeRef(), outcome, CancellationToken.None);
            }

            Move(jobId, job.State, JobState.Cleaned, "VM, TAP, overlay and runner released");
        }
        catch (Exception e)
        {
            LogTeardownFailed(log, e, jobId);
        }

        return job.State;
    }

    /// <summary>The job's phases beside its log; a failure to write them costs the timeline, never the job.</summary>
    private async Task SavePhasesAsync(JobPhases phases, string path)
    {
        try
        {
            await phases.SaveAsync(path);
        }
        catch (IOException e)
        {
            LogPhasesNotSaved(log, path, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the job's phase timings could not be written to {Path}: {Reason}")]
    private static partial void LogPhasesNotSaved(ILogger log, string path, string reason);

    /// <summary>Keeps the VM's config beside the log (it has no secrets), for the admin page after the work directory is gone.</summary>
    private static async Task SaveVmConfigAsync(string path, Kindling.Vmm.Contract.VmConfig config, CancellationToken ct)
    {
        string temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, VmConfigBuilder.ToJson(config), ct);
        File.Move(temp, path, overwrite: true);
    }

    private JobRecord Move(long id, JobState from, JobState to, string reason, int? exit = null)
    {
        JobRecord r = store.Transition(id, from, to, reason, exit);
        metrics.Transition(JobLifecycle.Name(to));
        return r;
    }

    /// <summary>Polls the forge while the job runs: a job cancelled there (or finished elsewhere, past the idle timeout) stops the VM.</summary>
    private async Task Watch(JobRecord job, IForge forge, CancellationTokenSource cancel, System.Runtime.CompilerServices.StrongBox<string?> reason, CancellationToken ct)
    {
        KindlingOptions o = options.Value;
        DateTimeOffset? doneElsewhereSince = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(o.PollInterval, time, ct);
                ForgeJobStatus status;
                try
                {
                    status = await forge.GetStatusAsync(job.ForgeRef(), ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    continue; // the forge being down must not stop a running job
                }

                if (status == ForgeJobStatus.Cancelled)
                {
                    reason.Value = "cancelled on the forge";
                    await cancel.CancelAsync();
                    return;
                }

                if (status is ForgeJobStatus.Completed or ForgeJobStatus.Gone)
                {
                    doneElsewhereSince ??= time.GetUtcNow();
                    if (time.GetUtcNow() - doneElsewhereSince >= o.IdleRunnerTimeout)
                    {
                        reason.Value = $"idle: the forge reports the job {status} but the VM is still up after {o.IdleRunnerTimeout}";
                        await cancel.CancelAsync();
                        return;
                    }
                }
                else
                {
                    doneElsewhereSince = null; // queued or in progress again (a stale answer before): the idle clock starts over
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "job {JobId} (attempt {Attempt}): the forge is unavailable while preparing: {Reason}")]
    private static partial void LogForgeUnavailable(ILogger log, long jobId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "job {JobId} failed while {Stage}: {Reason}")]
    private static partial void LogFailedBecause(ILogger log, long jobId, string stage, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "job {JobId} failed while {Stage}")]
    private static partial void LogFailed(ILogger log, Exception e, long jobId, string stage);

    [LoggerMessage(Level = LogLevel.Error, Message = "teardown of job {JobId} failed; the reaper will retry")]
    private static partial void LogTeardownFailed(ILogger log, Exception e, long jobId);

    /// <summary>The guest agent did not start the job within Launcher:BootTimeout.</summary>
    private sealed class BootTimedOutException(string message) : Exception(message);
}
