using System.Collections.Frozen;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The one table of legal job transitions. Everything that changes a job's state asks <see cref="IsLegal"/>;
/// the JobStore refuses anything else.
/// </summary>
/// <remarks>
/// queued → preparing → booting → running → succeeded | failed | cancelled | timed_out → cleaned.
/// Failed and cancelled are reachable from every earlier live state (a launch can fail, a job can be cancelled
/// before it boots). Preparing and booting may go back to queued: the reaper re-queues a job whose guest never
/// started when the runner restarted (nothing of the job ran, so running it again is safe).
/// </remarks>
public static class JobLifecycle
{
    private static readonly FrozenDictionary<JobState, FrozenSet<JobState>> Legal =
        new Dictionary<JobState, FrozenSet<JobState>>
        {
            [JobState.Queued] = Set(JobState.Preparing, JobState.Failed, JobState.Cancelled),
            [JobState.Preparing] = Set(JobState.Booting, JobState.Failed, JobState.Cancelled, JobState.Queued),
            [JobState.Booting] = Set(JobState.Running, JobState.Failed, JobState.Cancelled, JobState.TimedOut, JobState.Queued),
            [JobState.Running] = Set(JobState.Succeeded, JobState.Failed, JobState.Cancelled, JobState.TimedOut),
            [JobState.Succeeded] = Set(JobState.Cleaned),
            [JobState.Failed] = Set(JobState.Cleaned),
            [JobState.Cancelled] = Set(JobState.Cleaned),
            [JobState.TimedOut] = Set(JobState.Cleaned),
            [JobState.Cleaned] = Set(),
        }.ToFrozenDictionary();

    /// <summary>Every (from, to) pair the table allows.</summary>
    public static IEnumerable<(JobState From, JobState To)> AllLegal =>
        Legal.SelectMany(kv => kv.Value.Select(to => (kv.Key, to)));

    public static bool IsLegal(JobState from, JobState to) => Legal[from].Contains(to);

    /// <summary>A job result is known: the VM is gone or going, only teardown remains.</summary>
    public static bool IsFinished(JobState s) =>
        s is JobState.Succeeded or JobState.Failed or JobState.Cancelled or JobState.TimedOut;

    /// <summary>Nothing more will happen to the job.</summary>
    public static bool IsTerminal(JobState s) => s == JobState.Cleaned;

    /// <summary>A job that holds host resources (overlay, VM, TAP, JIT runner) or may soon.</summary>
    public static bool IsActive(JobState s) => s is JobState.Preparing or JobState.Booting or JobState.Running;

    /// <summary>The snake_case name used in logs, the API and the database.</summary>
    public static string Name(JobState s) => s switch
    {
        JobState.TimedOut => "timed_out",
        _ => s.ToString().ToLowerInvariant(),
    };

    public static JobState Parse(string name) => name switch
    {
        "timed_out" => JobState.TimedOut,
        _ => Enum.Parse<JobState>(name, ignoreCase: true),
    };

    private static FrozenSet<JobState> Set(params JobState[] states) => states.ToFrozenSet();
}
