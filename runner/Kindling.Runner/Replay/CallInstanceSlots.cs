using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>strategy.max-parallel</c> and <c>fail-fast</c> of a job that calls a reusable workflow with a matrix, across
/// its calls (one per combination), as GitHub applies them: a call takes a slot when its first job is due and gives
/// it back when its last job has ended; with fail-fast (the default) a failed job of one call cancels the sibling
/// calls, their running jobs and those not started yet.
/// </summary>
internal sealed class CallInstanceSlots : IDisposable
{
    private sealed class Group(CallStrategy strategy, CancellationToken ct) : IDisposable
    {
        public CallStrategy Strategy => strategy;
        public SemaphoreSlim Slots { get; } = new(Math.Max(1, strategy.MaxParallel));
        public CancellationTokenSource FailFast { get; } = CancellationTokenSource.CreateLinkedTokenSource(ct);
        public int Calls { get; set; }

        public void Dispose()
        {
            Slots.Dispose();
            FailFast.Dispose();
        }
    }

    private sealed class Instance(Group group)
    {
        public Group Group => group;
        public Task<bool>? Entered { get; set; }
        public int Remaining { get; set; }
    }

    private readonly Dictionary<CallStrategy, Group> _groups = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Action<string> _report;

    /// <summary>Counts the jobs of each call among <paramref name="jobs"/> (those of the run).</summary>
    public CallInstanceSlots(IEnumerable<WorkflowJob> jobs, Action<string> report, CancellationToken ct)
    {
        _report = report;
        foreach (ReusableCall call in jobs.SelectMany(j => j.Call?.Chain ?? []).Where(c => c.Instance is not null))
        {
            CallStrategy strategy = call.Instance!.Strategy;
            if (!_groups.TryGetValue(strategy, out Group? group))
            {
                _groups[strategy] = group = new Group(strategy, ct);
            }

            if (!_instances.TryGetValue(call.FullPrefix, out Instance? instance))
            {
                _instances[call.FullPrefix] = instance = new Instance(group);
                group.Calls++;
            }

            instance.Remaining++;
        }
    }

    /// <summary>
    /// Waits for a slot of every matrix call the job belongs to; the token source the job then runs under (a sibling
    /// call's failure cancels it with fail-fast), or null when fail-fast (or the run's cancel) came first.
    /// </summary>
    public async Task<CancellationTokenSource?> EnterAsync(WorkflowJob job, CancellationToken ct)
    {
        List<Instance> mine = Of(job);
        foreach (Instance instance in mine)
        {
            Task<bool> entered;
            lock (_lock)
            {
                entered = instance.Entered ??= TakeSlotAsync(instance.Group);
            }

            if (!await entered)
            {
                return null;
            }
        }

        return CancellationTokenSource.CreateLinkedTokenSource([ct, .. mine.Select(i => i.Group.FailFast.Token)]);
    }

    /// <summary>After the job, whatever became of it: counts it off its calls (the last job of a call frees its slot) and applies fail-fast.</summary>
    public void Leave(WorkflowJob job, string result)
    {
        foreach (Instance instance in Of(job))
        {
            lock (_lock)
            {
                if (--instance.Remaining == 0 && instance.Entered is { IsCompletedSuccessfully: true, Result: true })
                {
                    instance.Group.Slots.Release();
                }
            }

            Group g = instance.Group;
            if (result == JobResults.Failure && g.Strategy.FailFast && g.Calls > 1 && !g.FailFast.IsCancellationRequested)
            {
                _report($"job {job.Id} failed: fail-fast cancels the other calls of {g.Strategy.CallerId}'s matrix");
                g.FailFast.Cancel();
            }
        }
    }

    public void Dispose()
    {
        foreach (Group g in _groups.Values)
        {
            g.Dispose();
        }
    }

    private List<Instance> Of(WorkflowJob job) =>
        [.. (job.Call?.Chain ?? []).Where(c => c.Instance is not null).Select(c => _instances[c.FullPrefix])];

    private static async Task<bool> TakeSlotAsync(Group group)
    {
        try
        {
            await group.Slots.WaitAsync(group.FailFast.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
