using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>A job of a run once it has ended: its result, its <c>outputs:</c>, and the exit code it stands for.</summary>
public sealed record JobSummary(string Result, IReadOnlyList<KeyValuePair<string, string>> Outputs, int ExitCode);

/// <summary>
/// Runs a job and the jobs it needs as GitHub does: each job (each matrix combination) in a VM of its own, a job only
/// after everything it needs has ended, jobs whose needs allow it at the same time (up to the host's capacity); a job
/// whose needs did not all succeed is skipped unless its <c>if:</c> asks for <c>always()</c>/<c>failure()</c>; the
/// <c>needs</c> context carries each needed job's result and outputs. A job's matrix combinations run at most
/// <c>strategy.max-parallel</c> at a time and, with <c>fail-fast</c> (the default), the first failure cancels the
/// combinations still running and those not yet started.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification =
    "_host is a SemaphoreSlim whose AvailableWaitHandle is never used: it holds no handle to release")]
public sealed class WorkflowRun(Workflow workflow, ReplayInputs inputs, Func<ReplayJobPlan, CancellationToken, Task<JobOutcome>> runJob, int capacity, Action<string> report)
{
    private readonly SemaphoreSlim _host = new(Math.Max(1, capacity));

    /// <summary>Runs <paramref name="jobId"/> with its needs; returns every job's summary, by job id.</summary>
    public async Task<IReadOnlyDictionary<string, JobSummary>> RunAsync(string jobId, CancellationToken ct)
    {
        IReadOnlyList<WorkflowJob> jobs = JobGraph.WithNeeds(workflow.Jobs, jobId);
        using var calls = new CallInstanceSlots(jobs, report, ct);
        var tasks = new Dictionary<string, Task<JobSummary>>(StringComparer.Ordinal);
        foreach (WorkflowJob job in jobs)
        {
            WorkflowJob j = job;
            List<(string, Task<JobSummary>)> needTasks = [.. j.Needs.Select(n => (n, tasks[n]))];
            tasks[j.Id] = Task.Run(async () =>
            {
                string result = JobResults.Failure;
                try
                {
                    JobSummary summary = await RunJobAsync(j, needTasks, calls, ct);
                    result = summary.Result;
                    return summary;
                }
                finally
                {
                    calls.Leave(j, result);
                }
            }, CancellationToken.None);
        }

        await Task.WhenAll(tasks.Values);
        return jobs.ToDictionary(j => j.Id, j => tasks[j.Id].Result, StringComparer.Ordinal);
    }

    /// <summary>The <c>needs</c> context from the needed jobs' summaries.</summary>
    public static ExprValue NeedsContext(IEnumerable<(string Id, JobSummary Summary)> needs) => ExprValue.Object(needs.Select(n =>
        KeyValuePair.Create(n.Id, ExprValue.Object(
        [
            new("result", ExprValue.String(n.Summary.Result)),
            new("outputs", ExprValue.Object(n.Summary.Outputs.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value))))),
        ]))));

    private async Task<JobSummary> RunJobAsync(WorkflowJob job, IReadOnlyList<(string Id, Task<JobSummary> Task)> needTasks, CallInstanceSlots calls, CancellationToken ct)
    {
        List<(string Id, JobSummary Summary)> needs = [];
        foreach ((string id, Task<JobSummary> t) in needTasks)
        {
            needs.Add((id, await t));
        }

        if (ct.IsCancellationRequested)
        {
            return _results[job.Id] = new JobSummary(JobResults.Cancelled, [], JobOutcome.Cancelled.ExitCode);
        }

        if (job.CalleeJobs.Count > 0)
        {
            return _results[job.Id] = CallSummary(job, needs);
        }

        if (CallGate.SkipReason(workflow, job.Call, inputs, id => _results.GetValueOrDefault(id)) is { } gate)
        {
            report($"job {job.Id}: skipped: {gate}");
            return _results[job.Id] = new JobSummary(JobResults.Skipped, [], 0);
        }

        // As on GitHub, the status functions of a job look at every job upstream, not only the ones it names; a job
        // of a reusable workflow, at those of its own workflow (its calling job's if: decided the rest).
        string scope = job.Call?.FullPrefix ?? "";
        bool needsFailed = needs.Any(n => n.Id.StartsWith(scope, StringComparison.Ordinal) && n.Summary.Result != JobResults.Success) ||
                           Ancestors(job).Any(a => a.StartsWith(scope, StringComparison.Ordinal) &&
                                                   _results.TryGetValue(a, out JobSummary? r) && r.Result is JobResults.Failure or JobResults.Cancelled);
        IReadOnlyList<ReplayJobPlan> plans = ReplayPlanner.Plan(workflow, job.Id,
            inputs with { Needs = NeedsContext(needs), NeedsFailed = needsFailed, Results = id => _results.GetValueOrDefault(id) });
        if (plans.All(p => p.SkipReason is not null))
        {
            foreach (ReplayJobPlan p in plans)
            {
                report($"job {p.Job.Id} ({p.DisplayName}): skipped: {p.SkipReason}");
            }

            return _results[job.Id] = new JobSummary(JobResults.Skipped, [], 0);
        }

        using CancellationTokenSource? call = await calls.EnterAsync(job, ct);
        if (call is null)
        {
            report($"job {job.Id}: cancelled before it started (fail-fast: a job of another call of its matrix failed)");
            return _results[job.Id] = new JobSummary(JobResults.Cancelled, [], JobOutcome.Cancelled.ExitCode);
        }

        ct = call.Token;
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var parallel = new SemaphoreSlim(Math.Max(1, plans[0].MaxParallel));
        var outcomes = new JobOutcome[plans.Count];
        List<Task> running = [];
        for (int i = 0; i < plans.Count; i++)
        {
            // Combinations start in matrix order, each once a max-parallel slot and a host slot are free.
            ReplayJobPlan p = plans[i];
            int at = i;
            if (p.SkipReason is { } why)
            {
                report($"job {p.Job.Id} ({p.DisplayName}): skipped: {why}");
                outcomes[at] = JobOutcome.Skipped;
                continue;
            }

            if (p.SetupError is { } setup)
            {
                // GitHub fails such a job in "Initialize containers", before any step (and before a VM would start here).
                report($"job {p.Job.Id} ({p.DisplayName}): failed to set up: {setup}");
                outcomes[at] = new JobOutcome { Result = JobResults.Failure, ExitCode = 1 };
                continue;
            }

            if (!await TryEnterAsync(parallel, failFast.Token))
            {
                outcomes[at] = NotStarted(p);
                continue;
            }

            if (!await TryEnterAsync(_host, failFast.Token))
            {
                parallel.Release();
                outcomes[at] = NotStarted(p);
                continue;
            }

            running.Add(Task.Run(async () =>
            {
                try
                {
                    outcomes[at] = await runJob(p, failFast.Token);
                    if (outcomes[at].Result == JobResults.Failure && p.FailFast && p.Total > 1 && !failFast.IsCancellationRequested)
                    {
                        report($"job {p.Job.Id} ({p.DisplayName}) failed: fail-fast cancels the job's other matrix combinations");
                        await failFast.CancelAsync();
                    }
                }
                finally
                {
                    _host.Release();
                    parallel.Release();
                }
            }, CancellationToken.None));
        }

        await Task.WhenAll(running);

        string result = outcomes.Any(o => o.Result == JobResults.Failure) ? JobResults.Failure
            : outcomes.Any(o => o.Result == JobResults.Cancelled) ? JobResults.Cancelled
            : outcomes.All(o => o.Result == JobResults.Skipped) ? JobResults.Skipped
            : JobResults.Success;
        int exit = outcomes.FirstOrDefault(o => o.Result == JobResults.Failure)?.ExitCode ?? outcomes.FirstOrDefault(o => o.ExitCode != 0)?.ExitCode ?? 0;
        if (result == JobResults.Failure && ContinueOnError(job, plans[0]))
        {
            report($"job {job.Id}: failed, but its continue-on-error is true: its result is success");
            result = JobResults.Success;
        }

        return _results[job.Id] = new JobSummary(result, Outputs(job, plans, outcomes), exit);
    }

    /// <summary>
    /// A job that called a reusable workflow ends with its callee's jobs: failed if one failed (else cancelled, skipped
    /// when all were), its outputs the callee's <c>on.workflow_call.outputs</c> read from their <c>jobs</c> context.
    /// With a matrix (one call per combination), as on GitHub, the calls are taken in order and a later non-empty
    /// value wins.
    /// </summary>
    private JobSummary CallSummary(WorkflowJob job, IReadOnlyList<(string Id, JobSummary Summary)> callee)
    {
        string result = callee.Any(n => n.Summary.Result == JobResults.Failure) ? JobResults.Failure
            : callee.Any(n => n.Summary.Result == JobResults.Cancelled) ? JobResults.Cancelled
            : callee.All(n => n.Summary.Result == JobResults.Skipped) ? JobResults.Skipped
            : JobResults.Success;
        int exit = callee.Select(n => n.Summary.ExitCode).FirstOrDefault(c => c != 0);
        List<KeyValuePair<string, string>> outputs = [];
        foreach (IGrouping<string, (string Id, JobSummary Summary)> call in callee.GroupBy(n => CallPrefix(job, n.Id)))
        {
            var ctx = new ExprContext
            {
                Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
                {
                    ["jobs"] = NeedsContext(call.Select(n => (n.Id[call.Key.Length..], n.Summary))),
                },
                Where = $"jobs.{job.Id}: on.workflow_call.outputs",
            };
            foreach ((string name, string template) in job.Outputs)
            {
                Merge(outputs, name, ReplayPlanner.Text(Template.Evaluate(template, ctx with { Where = $"{ctx.Where}.{name}" })));
            }
        }

        return new JobSummary(result, outputs, exit);
    }

    /// <summary>The prefix of the call of <paramref name="caller"/> that the callee job <paramref name="id"/> belongs to (<c>caller/</c>, or <c>caller (values)/</c>).</summary>
    private string CallPrefix(WorkflowJob caller, string id) =>
        workflow.Jobs.FirstOrDefault(j => j.Id == id)?.Call?.Chain.FirstOrDefault(c => (c.Parent?.FullPrefix ?? "") + c.Caller.Id == caller.Id)?.FullPrefix
        ?? caller.Id + "/";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, JobSummary> _results = new(StringComparer.Ordinal);

    /// <summary>Every job <paramref name="job"/> needs, directly or through others.</summary>
    private IEnumerable<string> Ancestors(WorkflowJob job) =>
        JobGraph.WithNeeds(workflow.Jobs, job.Id).Select(j => j.Id).Where(id => id != job.Id);

    private static async Task<bool> TryEnterAsync(SemaphoreSlim slots, CancellationToken ct)
    {
        try
        {
            await slots.WaitAsync(ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private JobOutcome NotStarted(ReplayJobPlan p)
    {
        report($"job {p.Job.Id} ({p.DisplayName}): cancelled before it started (fail-fast: a sibling failed)");
        return JobOutcome.Cancelled;
    }

    private static bool ContinueOnError(WorkflowJob job, ReplayJobPlan plan)
    {
        if (job.ContinueOnError is not { } coe || plan.JobContext is not { } ctx)
        {
            return false;
        }

        ExprValue v = Template.Evaluate(coe, ctx with { Where = $"{ctx.Where}: continue-on-error" });
        return v.Kind == ExprKind.Boolean ? v.AsBoolean : v.ToString() == "true";
    }

    /// <summary>
    /// The job's <c>outputs:</c>, each evaluated after the job with its steps context; with a matrix, as on GitHub,
    /// the combinations are taken in order and a later non-empty value wins.
    /// </summary>
    private static IReadOnlyList<KeyValuePair<string, string>> Outputs(WorkflowJob job, IReadOnlyList<ReplayJobPlan> plans, JobOutcome[] outcomes)
    {
        var values = new List<KeyValuePair<string, string>>();
        if (job.Outputs.Count == 0)
        {
            return values;
        }

        for (int i = 0; i < plans.Count; i++)
        {
            if (plans[i].JobContext is not { } ctx || outcomes[i].Result == JobResults.Skipped)
            {
                continue;
            }

            var withSteps = ctx with
            {
                Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["steps"] = outcomes[i].StepsContext(plans[i]) },
                Unavailable = ctx.Unavailable.Where(kv => kv.Key != "steps").ToDictionary(StringComparer.OrdinalIgnoreCase),
            };
            foreach ((string name, string template) in job.Outputs)
            {
                Merge(values, name, ReplayPlanner.Text(Template.Evaluate(template, withSteps with { Where = $"{ctx.Where}: outputs.{name}" })));
            }
        }

        return values;
    }

    /// <summary>An output of one more matrix combination (or call): GitHub keeps the first value, a later non-empty one wins.</summary>
    private static void Merge(List<KeyValuePair<string, string>> values, string name, string v)
    {
        int at = values.FindIndex(kv => kv.Key == name);
        if (at < 0)
        {
            values.Add(KeyValuePair.Create(name, v));
        }
        else if (v.Length > 0)
        {
            values[at] = KeyValuePair.Create(name, v);
        }
    }
}
