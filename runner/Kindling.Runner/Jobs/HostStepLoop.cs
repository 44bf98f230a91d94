using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kindling.Images.Guest;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Jobs;

/// <summary>
/// What one step of a host-driven job left, as the runner read it from the serial console; <paramref name="EndedBy"/>
/// is step-end's <c>ended</c> field (<see cref="FramingLine.EndedCancelled"/>, <see cref="FramingLine.EndedTimedOut"/>) or null.
/// </summary>
public sealed record HostStepResult(int Number, bool Skipped, int? ExitCode, StepFiles Files, string? EndedBy = null, StepCommandEffects? Commands = null);

/// <summary>
/// What a step's workflow commands on its output did (the runner reads them; the agent does not): <c>::set-output</c>
/// values (its outputs, beside $GITHUB_OUTPUT's), <c>::set-env</c> entries and <c>::add-path</c> directories (for
/// the later steps, where allowed) and how many <c>::warning</c> and <c>::error</c> annotations it printed.
/// </summary>
public sealed record StepCommandEffects(
    IReadOnlyList<KeyValuePair<string, string>> Outputs, IReadOnlyList<KeyValuePair<string, string>> Env, IReadOnlyList<string> Paths, int Warnings, int Errors)
{
    /// <summary><c>::save-state</c> values: the <c>STATE_&lt;name&gt;</c> variables of the same action's post step (with $GITHUB_STATE's).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> State { get; init; } = [];

    public static StepCommandEffects None { get; } = new([], [], [], 0, 0);
}

/// <summary>Decides each step of a host-driven job when the steps before it have ended (expressions at step time).</summary>
public interface IHostStepSource
{
    /// <summary>
    /// Step <paramref name="n"/> as it runs now, given what the steps before it left (in order), or null when the job
    /// has no more steps. Its <see cref="StepSpec.If"/> is one the agent knows (success(), failure(), always(),
    /// cancelled()). <paramref name="cancelled"/>: the job was cancelled, so only steps whose if: holds then
    /// (always(), cancelled()) run, and the agent gets them as always(), the others as cancelled() (skipped).
    /// A <see cref="HostStepException"/> fails the job with its message in the log.
    /// </summary>
    StepSpec? Next(int n, IReadOnlyList<HostStepResult> done, bool cancelled);
}

/// <summary>A step that cannot be decided (an expression that fails at step time): the job fails with this message.</summary>
public sealed class HostStepException(string message) : Exception(message);

/// <summary>A spec's steps as they are: the agent evaluates their if: against its own failure bit.</summary>
public sealed class SpecStepSource(JobSpec spec) : IHostStepSource
{
    public StepSpec? Next(int n, IReadOnlyList<HostStepResult> done, bool cancelled) => n >= spec.Steps.Count ? null
        : !cancelled ? spec.Steps[n]
        : spec.Steps[n] with { If = spec.Steps[n].If is "always()" or "cancelled()" ? "always()" : "cancelled()" };
}

/// <summary>
/// The runner's half of host-driven steps (images/guest/PROTOCOL.md): the job document says <c>mode host</c> and
/// carries no steps; step 0 is in MMDS before boot, and each time the serial console shows that step N has ended
/// (its step-files line, or its step-skip) the runner asks <see cref="IHostStepSource"/> for step N+1 and PATCHes it
/// into MMDS at <c>kindling/steps/N+1</c>, removing step N (the agent has read it) so the data store stays small.
/// It sits between the log pump and the job's observer and forwards every event. <see cref="CancelAsync"/> ends the
/// step the guest runs (MMDS <c>kindling/cancel</c>) and decides the steps after it as a cancelled job's.
/// </summary>
// CA1001: _handing is a SemaphoreSlim whose wait handle is never asked for: it holds nothing Dispose would free.
#pragma warning disable CA1001
internal sealed class HostStepLoop(IHostStepSource source, ILogObserver next, IReadOnlyDictionary<string, string>? jobEnv = null) : ILogObserver
#pragma warning restore CA1001
{
    private readonly Channel<HostStepResult> _ended = Channel.CreateUnbounded<HostStepResult>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<HostStepResult> _done = [];
    private readonly Dictionary<int, int> _exits = [];
    private readonly Dictionary<int, string> _endedBy = [];
    private readonly object _gate = new();

    /// <summary>Deciding and handing over a step, and cancelling, one at a time: a cancel covers every step handed before it.</summary>
    private readonly SemaphoreSlim _handing = new(1, 1);
    private IVmHandle? _vm;
    private readonly Dictionary<int, StepCommandEffects> _effects = [];
    private readonly Dictionary<int, StepSpec> _handedSpecs = [];
    private readonly Dictionary<string, string> _commandEnv = new(StringComparer.Ordinal);
    private readonly List<string> _commandPaths = [];

    /// <summary>The job's ::warning and ::error annotations so far.</summary>
    public (int Warnings, int Errors) Annotations { get; private set; }

    /// <summary>The environment variable that lets a step use ::set-env and ::add-path, as on GitHub.</summary>
    public const string AllowUnsecureCommands = "ACTIONS_ALLOW_UNSECURE_COMMANDS";
    private volatile bool _cancelled;
    private volatile bool _jobEnded;
    private int _handedUpTo;

    /// <summary>The step the guest runs now (or last ran), and its name, for a cancellation's reason.</summary>
    public (int Number, string Name)? Current { get; private set; }

    /// <summary>
    /// The job's MMDS for <paramref name="tree"/> (<see cref="MmdsTree.Build"/> in <see cref="MmdsKeys.Job.ModeHost"/>):
    /// its document, and step 0 beside it.
    /// </summary>
    public JsonObject FirstMmds(JsonObject tree)
    {
        if (tree[MmdsKeys.Kindling]?[MmdsKeys.Root.Job]?[MmdsKeys.Job.Mode]?.GetValue<string>() != MmdsKeys.Job.ModeHost)
        {
            throw new ArgumentException($"the job's MMDS tree must be built in mode {MmdsKeys.Job.ModeHost} for host-driven steps", nameof(tree));
        }

        JsonObject mmds = JobDocument.Mmds(tree);
        mmds[MmdsKeys.Kindling]![JobDocument.StepsKey] = new JsonObject { ["0"] = StepDocument(0) };
        return mmds;
    }

    /// <summary>Completes, with the reason, when a step could not be handed over (the VMM refused the PATCH): the guest would wait for it forever.</summary>
    public Task<string> Failed => _failed.Task;

    private readonly TaskCompletionSource<string> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Hands the guest each next step until the job ends; returns when the log shows job-end or <paramref name="ct"/>
    /// ends it. A failure to hand a step over completes <see cref="Failed"/> instead of throwing.
    /// </summary>
    public async Task RunAsync(IVmHandle vm, CancellationToken ct)
    {
        _vm = vm;
        try
        {
            await HandOverAsync(vm, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is VmLaunchException or IOException or HttpRequestException or NotSupportedException or System.Net.Sockets.SocketException)
        {
            _failed.TrySetResult(e.Message);
        }
    }

    private async Task HandOverAsync(IVmHandle vm, CancellationToken ct)
    {
        await foreach (HostStepResult r in _ended.Reader.ReadAllAsync(ct))
        {
            await _handing.WaitAsync(ct);
            try
            {
                _done.Add(r);
                int n = r.Number + 1;
                var steps = new JsonObject
                {
                    [r.Number.ToString(CultureInfo.InvariantCulture)] = null,
                    [n.ToString(CultureInfo.InvariantCulture)] = StepDocument(n),
                };
                await vm.PatchMmdsAsync(new JsonObject { [MmdsKeys.Kindling] = new JsonObject { [JobDocument.StepsKey] = steps } }, ct);
                _handedUpTo = n;
            }
            finally
            {
                _handing.Release();
            }
        }
    }

    /// <summary>Whether <see cref="CancelAsync"/> can end the job's steps (the VM runs and its job has not ended); else a cancel stops the VM.</summary>
    public bool CanCancelSteps => _vm is not null && !_jobEnded && !_failed.Task.IsCompleted;

    /// <summary>Whether the job was cancelled through <see cref="CancelAsync"/>.</summary>
    public bool Cancelled => _cancelled;

    /// <summary>
    /// Cancels the job's steps: every step handed over so far ends (the agent stops the one it runs, PROTOCOL.md's
    /// <c>kindling/cancel</c>) and the steps after them are decided as a cancelled job's (only if: always() or
    /// cancelled() steps run). False when the VM's MMDS could not be changed: then only stopping the VM ends the job.
    /// </summary>
    public async Task<bool> CancelAsync(CancellationToken ct)
    {
        if (_vm is not { } vm)
        {
            return false;
        }

        try
        {
            await _handing.WaitAsync(ct);
            try
            {
                _cancelled = true;
                await vm.PatchMmdsAsync(new JsonObject
                {
                    [MmdsKeys.Kindling] = new JsonObject { [MmdsKeys.Root.Cancel] = _handedUpTo.ToString(CultureInfo.InvariantCulture) },
                }, ct);
                return true;
            }
            finally
            {
                _handing.Release();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or VmLaunchException or IOException or HttpRequestException or NotSupportedException or System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private string StepDocument(int n)
    {
        StepSpec? step;
        try
        {
            step = source.Next(n, _done, _cancelled);
        }
        catch (HostStepException e)
        {
            // The job fails here, with the reason in its log: one step that says it and exits 2, always run.
            step = new StepSpec
            {
                Name = $"step {n}: cannot be decided", Run = "echo \"$KINDLING_STEP_ERROR\"; exit 2", If = "always()",
                Env = new Dictionary<string, string> { ["KINDLING_STEP_ERROR"] = "kindling: " + e.Message },
            };
        }

        if (step is null)
        {
            return JobDocument.EncodeStep(n, null);
        }

        JsonObject document = MmdsTree.Step(step);
        lock (_gate)
        {
            _handedSpecs[n] = step;
            // What earlier steps' ::set-env and ::add-path gave every later step (the step's own env wins, as on GitHub).
            JsonObject env = document[MmdsKeys.Step.Env]!.AsObject();
            foreach ((string k, string v) in _commandEnv.Where(kv => !env.ContainsKey(kv.Key)))
            {
                env[k] = v;
            }

            if (_commandPaths.Count > 0)
            {
                document[MmdsKeys.Step.AddPath] = string.Join('\n', _commandPaths);
            }
        }

        return JobDocument.EncodeStep(n, document);
    }

    /// <summary>Whether step <paramref name="n"/> may use ::set-env and ::add-path: ACTIONS_ALLOW_UNSECURE_COMMANDS=true in its env, the job's, or set by an earlier command.</summary>
    public bool UnsecureCommandsAllowed(int n)
    {
        lock (_gate)
        {
            return (_handedSpecs.TryGetValue(n, out StepSpec? s) ? s.Env.GetValueOrDefault(AllowUnsecureCommands) : null) is { } own
                ? own == "true"
                : (_commandEnv.GetValueOrDefault(AllowUnsecureCommands) ?? jobEnv?.GetValueOrDefault(AllowUnsecureCommands)) == "true";
        }
    }

    public void OnWorkflowCommand(int n, WorkflowCommand command)
    {
        lock (_gate)
        {
            StepCommandEffects e = _effects.GetValueOrDefault(n) ?? StepCommandEffects.None;
            string? name = command.Property("name");
            _effects[n] = command.Name switch
            {
                WorkflowCommand.SetOutput when name is { Length: > 0 } => e with { Outputs = [.. e.Outputs, KeyValuePair.Create(name, command.Value)] },
                WorkflowCommand.SetEnv when name is { Length: > 0 } => e with { Env = [.. e.Env, KeyValuePair.Create(name, command.Value)] },
                WorkflowCommand.SaveState when name is { Length: > 0 } => e with { State = [.. e.State, KeyValuePair.Create(name, command.Value)] },
                WorkflowCommand.AddPath when command.Value.Length > 0 => e with { Paths = [.. e.Paths, command.Value] },
                WorkflowCommand.Warning => e with { Warnings = e.Warnings + 1 },
                WorkflowCommand.Error => e with { Errors = e.Errors + 1 },
                _ => e,
            };
            if (command.Name == WorkflowCommand.SetEnv && name is { Length: > 0 })
            {
                _commandEnv[name] = command.Value;
            }
            else if (command.Name == WorkflowCommand.AddPath && command.Value.Length > 0)
            {
                _commandPaths.Add(command.Value); // in order: the agent puts each in front of PATH, so the latest comes first
            }
            else if (command.Name is WorkflowCommand.Warning or WorkflowCommand.Error)
            {
                Annotations = command.Name == WorkflowCommand.Warning ? (Annotations.Warnings + 1, Annotations.Errors) : (Annotations.Warnings, Annotations.Errors + 1);
            }
        }

        next.OnWorkflowCommand(n, command);
    }

    public void OnJobStart() => next.OnJobStart();

    public void OnStepStart(int n, string name)
    {
        Current = (n, name);
        next.OnStepStart(n, name);
    }

    public void OnStepEnd(int n, int exitCode, double? seconds)
    {
        lock (_gate)
        {
            _exits[n] = exitCode;
        }

        next.OnStepEnd(n, exitCode, seconds);
    }

    public void OnStepStopped(int n, string endedBy)
    {
        lock (_gate)
        {
            _endedBy[n] = endedBy;
        }

        next.OnStepStopped(n, endedBy);
    }

    public void OnStepFiles(int n, StepFiles files)
    {
        next.OnStepFiles(n, files);
        int? exit;
        string? endedBy;
        StepCommandEffects? effects;
        lock (_gate)
        {
            exit = _exits.TryGetValue(n, out int e) ? e : null;
            endedBy = _endedBy.GetValueOrDefault(n);
            effects = _effects.GetValueOrDefault(n);
        }

        _ended.Writer.TryWrite(new HostStepResult(n, false, exit, files, endedBy, effects));
    }

    public void OnStepSkip(int n, string name, string reason)
    {
        next.OnStepSkip(n, name, reason);
        _ended.Writer.TryWrite(new HostStepResult(n, true, null, StepFiles.None));
    }

    public void OnLine(long offset, string maskedLine) => next.OnLine(offset, maskedLine);

    public void OnAgentError(string message) => next.OnAgentError(message);

    public void OnJobEnd(JobEnd end)
    {
        _jobEnded = true;
        _ended.Writer.TryComplete();
        next.OnJobEnd(end);
    }
}
