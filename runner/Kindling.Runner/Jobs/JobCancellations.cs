using System.Collections.Concurrent;

namespace Kindling.Runner.Jobs;

/// <summary>
/// Jobs this process is running that can be cancelled from here (the admin page, the API): the JobRunner registers
/// each job while it runs; a cancel stops the VM and the job ends <c>cancelled</c> with the given reason.
/// </summary>
public sealed class JobCancellations
{
    private readonly ConcurrentDictionary<long, Action<string>> _live = new();

    /// <summary>Makes <paramref name="jobId"/> cancellable until the returned handle is disposed.</summary>
    public IDisposable Register(long jobId, Action<string> cancel)
    {
        _live[jobId] = cancel;
        return new Registration(this, jobId, cancel);
    }

    public bool IsRegistered(long jobId) => _live.ContainsKey(jobId);

    /// <summary>Asks the runner of <paramref name="jobId"/> to stop it; false when this process does not run it.</summary>
    public bool TryCancel(long jobId, string reason)
    {
        if (!_live.TryGetValue(jobId, out Action<string>? cancel))
        {
            return false;
        }

        cancel(reason);
        return true;
    }

    private sealed class Registration(JobCancellations owner, long jobId, Action<string> cancel) : IDisposable
    {
        public void Dispose() => owner._live.TryRemove(new KeyValuePair<long, Action<string>>(jobId, cancel));
    }
}
