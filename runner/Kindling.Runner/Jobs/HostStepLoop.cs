using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kindling.Images.Guest;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Jobs;

/// <summary>What one step of a host-driven job left, as the runner read it from the serial console.</summary>
public sealed record HostStepResult(int Number, bool Skipped, int? ExitCode, StepFiles Files);

/// <summary>Decides each step of a host-driven job when the steps before it have ended (expressions at step time).</summary>
public interface IHostStepSource
{
    /// <summary>
    /// Step <paramref name="n"/> as it runs now, given what the steps before it left (in order), or null when the job
    /// has no more steps. Its <see cref="StepSpec.If"/> is one the agent knows (success(), failure(), always(),
    /// cancelled()). A <see cref="HostStepException"/> fails the job with its message in the log.
    /// </summary>
    StepSpec? Next(int n, IReadOnlyList<HostStepResult> done);
}

/// <summary>A step that cannot be decided (an expression that fails at step time): the job fails with this message.</summary>
public sealed class HostStepException(string message) : Exception(message);

/// <summary>A spec's steps as they are: the agent evaluates their if: against its own failure bit.</summary>
public sealed class SpecStepSource(JobSpec spec) : IHostStepSource
{
    public StepSpec? Next(int n, IReadOnlyList<HostStepResult> done) => n < spec.Steps.Count ? spec.Steps[n] : null;
}

/// <summary>
/// The runner's half of host-driven steps (images/guest/PROTOCOL.md): the job document says <c>mode host</c> and
/// carries no steps; step 0 is in MMDS before boot, and each time the serial console shows that step N has ended
/// (its step-files line, or its step-skip) the runner asks <see cref="IHostStepSource"/> for step N+1 and PATCHes it
/// into MMDS at <c>kindling/steps/N+1</c>, removing step N (the agent has read it) so the data store stays small.
/// It sits between the log pump and the job's observer and forwards every event.
/// </summary>
internal sealed class HostStepLoop(IHostStepSource source, ILogObserver next) : ILogObserver
{
    private readonly Channel<HostStepResult> _ended = Channel.CreateUnbounded<HostStepResult>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<HostStepResult> _done = [];
    private readonly Dictionary<int, int> _exits = [];
    private readonly object _gate = new();

    /// <summary>The step the guest runs now (or last ran), and its name, for a cancellation's reason.</summary>
    public (int Number, string Name)? Current { get; private set; }

    /// <summary>The job's MMDS for <paramref name="tree"/> (MmdsTree's): a document in host mode without steps, and step 0.</summary>
    public JsonObject FirstMmds(JsonObject tree)
    {
        JsonObject job = tree["kindling"]!["job"]!.AsObject();
        job.Remove("steps");
        job.Remove("step_count");
        job["mode"] = "host";
        JsonObject mmds = JobDocument.Mmds(tree);
        mmds["kindling"]![JobDocument.StepsKey] = new JsonObject { ["0"] = StepDocument(0) };
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
            _done.Add(r);
            int n = r.Number + 1;
            var steps = new JsonObject
            {
                [r.Number.ToString(CultureInfo.InvariantCulture)] = null,
                [n.ToString(CultureInfo.InvariantCulture)] = StepDocument(n),
            };
            await vm.PatchMmdsAsync(new JsonObject { ["kindling"] = new JsonObject { [JobDocument.StepsKey] = steps } }, ct);
        }
    }

    private string StepDocument(int n)
    {
        StepSpec? step;
        try
        {
            step = source.Next(n, _done);
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

        return JobDocument.EncodeStep(n, step is null ? null : MmdsTree.Step(step));
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

    public void OnStepFiles(int n, StepFiles files)
    {
        next.OnStepFiles(n, files);
        int? exit;
        lock (_gate)
        {
            exit = _exits.TryGetValue(n, out int e) ? e : null;
        }

        _ended.Writer.TryWrite(new HostStepResult(n, false, exit, files));
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
        _ended.Writer.TryComplete();
        next.OnJobEnd(end);
    }
}
