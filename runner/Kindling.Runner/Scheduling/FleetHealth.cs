using System.Data.Common;

namespace Kindling.Runner.Scheduling;

/// <summary>
/// Whether this host can reach the job database. A host that cannot stops admitting (its running VMs go on) and
/// says so in the log and in <c>/api/host</c>; the first heartbeat that gets through again lifts it.
/// </summary>
public sealed class FleetHealth
{
    private readonly Lock _gate = new();
    private string? _problem;
    private DateTimeOffset? _since;

    /// <summary>True while the database answers (nothing stops admission on this account).</summary>
    public bool CanAdmit
    {
        get
        {
            lock (_gate)
            {
                return _problem is null;
            }
        }
    }

    /// <summary>Why this host does not admit ("lost the job database at …: …"); null when it is healthy.</summary>
    public string? Problem
    {
        get
        {
            lock (_gate)
            {
                return _problem is null ? null : $"not admitting jobs: lost the job database at {_since:u}: {_problem}";
            }
        }
    }

    /// <summary>Records a failure to reach the database; true when this is the first (the caller logs it once).</summary>
    public bool Lost(string why, DateTimeOffset at)
    {
        lock (_gate)
        {
            bool first = _problem is null;
            _problem = why;
            _since ??= at;
            return first;
        }
    }

    /// <summary>The database answers again; true when it had been lost (the caller logs the recovery once).</summary>
    public bool Restored()
    {
        lock (_gate)
        {
            bool was = _problem is not null;
            _problem = null;
            _since = null;
            return was;
        }
    }

    /// <summary>A failure that means the database is unreachable or failing, not a bug of ours.</summary>
    public static bool IsStoreFailure(Exception e) =>
        e is DbException or TimeoutException or System.Net.Sockets.SocketException
        || (e is InvalidOperationException && e.InnerException is DbException or System.Net.Sockets.SocketException);
}
