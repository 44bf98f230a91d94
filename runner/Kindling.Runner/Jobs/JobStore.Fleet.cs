using System.Data;
using System.Data.Common;
using System.Globalization;
using Dapper;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The fleet's rows: hosts and their heartbeats, admission claims, the per-tenant poller lease and cancel requests
/// for jobs another host runs. On SQLite the same calls serve one host (BEGIN IMMEDIATE serializes them).
/// </summary>
public sealed partial class JobStore
{
    private static readonly string[] ActiveStates = [.. new[] { JobState.Preparing, JobState.Booting, JobState.Running }.Select(JobLifecycle.Name)];

    /// <summary>Records this host as live (a host that comes back after being declared dead starts afresh).</summary>
    public HostRecord RegisterHost(HostRegistration h)
    {
        ArgumentNullException.ThrowIfNull(h);
        string now = Stamp();
        return Use<HostRecord>(db =>
        {
            db.Execute(
                """
                INSERT INTO hosts (name, vcpus, memory_mib, version, labels, state, started_at, heartbeat_at)
                VALUES (@Name, @Vcpus, @MemoryMib, @Version, @labels, @live, @now, @now)
                ON CONFLICT (name) DO UPDATE SET vcpus = excluded.vcpus, memory_mib = excluded.memory_mib, version = excluded.version,
                    labels = excluded.labels, state = excluded.state, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, detail = NULL
                """,
                new { h.Name, h.Vcpus, h.MemoryMib, h.Version, labels = string.Join(',', h.Labels), live = HostStates.Live, now });
            return GetHost(db, h.Name)!;
        });
    }

    /// <summary>
    /// Renews this host's lease. Returns the host's row: a state other than live means the fleet declared it dead
    /// (it was silent too long) and its jobs were or are being taken over.
    /// </summary>
    public HostRecord? Heartbeat(string name) => Use<HostRecord?>(db =>
    {
        db.Execute("UPDATE hosts SET heartbeat_at = @now WHERE name = @name AND state = @live", new { name, now = Stamp(), live = HostStates.Live });
        return GetHost(db, name);
    });

    /// <summary>Changes when the database server restarts (see <see cref="StoreDialect.ServerEpoch"/>).</summary>
    public string ServerEpoch() => Use(_dialect.ServerEpoch);

    public IReadOnlyList<HostRecord> Hosts() => Use<IReadOnlyList<HostRecord>>(db =>
        [.. db.Query<HostRow>($"SELECT {HostColumns} FROM hosts ORDER BY name").Select(r => r.ToRecord())]);

    public HostRecord? GetHost(string name) => Use(db => GetHost(db, name));

    /// <summary>Sets a host's state (and why); false when there is no such host.</summary>
    public bool SetHostState(string name, string state, string? detail) =>
        Use(db => db.Execute("UPDATE hosts SET state = @state, detail = @detail WHERE name = @name", new { name, state, detail }) == 1);

    /// <summary>
    /// Marks a dead host gone once its jobs are taken over, <paramref name="note"/> appended to why it died; false
    /// when it is not dead (it came back and registered again meanwhile: a live host is never marked gone).
    /// </summary>
    public bool MarkHostGone(string name, string note) =>
        Use(db => db.Execute(
            "UPDATE hosts SET state = @gone, detail = COALESCE(detail, '') || @note WHERE name = @name AND state = @dead",
            new { name, note, gone = HostStates.Gone, dead = HostStates.Dead }) == 1);

    /// <summary>Drains (<paramref name="by"/> set) or undrains a host through the store; false when there is no such host.</summary>
    public bool SetHostDrain(string name, string? by) =>
        Use(db => db.Execute("UPDATE hosts SET drained_by = @by WHERE name = @name", new { name, by }) == 1);

    /// <summary>
    /// Marks dead every live host (other than <paramref name="by"/>) whose last heartbeat is older than
    /// <paramref name="leaseTimeout"/>; returns those this call marked. Two hosts asking at once each get distinct
    /// hosts (the rows are locked, and rows another host is marking are skipped).
    /// </summary>
    public IReadOnlyList<string> DeclareDeadHosts(string by, TimeSpan leaseTimeout)
    {
        DateTimeOffset now = _time.GetUtcNow();
        string cutoff = (now - leaseTimeout).ToString("O", CultureInfo.InvariantCulture);
        return Use<IReadOnlyList<string>>(db =>
        {
            using DbTransaction tx = _dialect.BeginWrite(db);
            string[] silent = [.. db.Query<string>(
                $"SELECT name FROM hosts WHERE state = @live AND heartbeat_at < @cutoff AND name <> @by ORDER BY name{_dialect.ForUpdateSkipLocked}",
                new { live = HostStates.Live, cutoff, by }, tx)];
            foreach (string name in silent)
            {
                db.Execute(
                    "UPDATE hosts SET state = @dead, detail = @detail WHERE name = @name",
                    new
                    {
                        name, dead = HostStates.Dead,
                        detail = string.Create(CultureInfo.InvariantCulture, $"no heartbeat for {leaseTimeout.TotalSeconds:0.#} s (lease); taken over by {by} at {now:u}"),
                    },
                    tx);
            }

            tx.Commit();
            return silent;
        });
    }

    /// <summary>Jobs a host holds that are not cleaned yet (for a takeover, or this host's own reaper).</summary>
    public IReadOnlyList<JobRecord> JobsOfHost(string host, params JobState[] states) => Use<IReadOnlyList<JobRecord>>(db =>
        [.. db.Query<JobRow>(
            $"SELECT {Columns} FROM jobs WHERE host = @host AND {_dialect.In("state", "@states")} ORDER BY id",
            new { host, states = states.Select(JobLifecycle.Name).ToArray() }).Select(r => r.ToRecord())]);

    /// <summary>
    /// Jobs in <paramref name="states"/> that are this host's to clean up after a restart: on a shared store those it
    /// holds (and those no host holds, from before the fleet); on one host's SQLite every job.
    /// </summary>
    public IReadOnlyList<JobRecord> ListMine(string host, params JobState[] states) => IsShared
        ? Use<IReadOnlyList<JobRecord>>(db =>
            [.. db.Query<JobRow>(
                $"SELECT {Columns} FROM jobs WHERE (host = @host OR host IS NULL) AND {_dialect.In("state", "@states")} ORDER BY id",
                new { host, states = states.Select(JobLifecycle.Name).ToArray() }).Select(r => r.ToRecord())])
        : ListByState(states);

    /// <summary>
    /// One admission round for <paramref name="host"/>, in one transaction: locks the queued tenants no other host is
    /// admitting for now (<c>FOR UPDATE SKIP LOCKED</c> on their <c>tenant_locks</c> rows, so a tenant's fleet-wide
    /// usage cannot change under the decision), reads their queued jobs (up to <paramref name="perTenant"/> each, in
    /// queue order) and every live job of the fleet, lets <paramref name="decide"/> pick, then locks the picked jobs
    /// (<c>SKIP LOCKED</c>: one a cancel holds is left) and moves them queued → preparing, held by <paramref name="host"/>.
    /// Returns the jobs admitted.
    /// </summary>
    public IReadOnlyList<JobRecord> Admit(
        string host, Func<IReadOnlyList<JobRecord>, IReadOnlyList<JobRecord>, IEnumerable<long>> decide, string reason, int perTenant = 256)
    {
        ArgumentNullException.ThrowIfNull(decide);
        if (!JobLifecycle.IsLegal(JobState.Queued, JobState.Preparing))
        {
            throw new IllegalTransitionException(0, JobState.Queued, JobState.Queued, JobState.Preparing);
        }

        string queued = JobLifecycle.Name(JobState.Queued);
        string preparing = JobLifecycle.Name(JobState.Preparing);
        string? firstTry = null;
        return Use<IReadOnlyList<JobRecord>>((db, retry) =>
        {
            using DbTransaction tx = _dialect.BeginWrite(db);
            // A retry after a broken connection: what the first try admitted may have been committed (only the answer
            // was lost); those jobs are this host's to start, so they are returned with this round's.
            List<JobRecord> committedBefore = retry && firstTry is not null
                ? [.. db.Query<JobRow>(
                    $"""
                    SELECT {Columns} FROM jobs WHERE host = @host AND state = @preparing
                      AND id IN (SELECT job_id FROM transitions WHERE to_state = @preparing AND at = @firstTry AND reason = @reason)
                    """,
                    new { host, preparing, firstTry, reason }, tx).Select(r => r.ToRecord())]
                : [];
            string[] tenants = [.. db.Query<string>("SELECT DISTINCT tenant FROM jobs WHERE state = @queued", new { queued }, tx)];
            if (tenants.Length == 0)
            {
                return committedBefore;
            }

            string[] locked = tenants;
            if (IsShared)
            {
                string[] known = [.. db.Query<string>($"SELECT tenant FROM tenant_locks WHERE {_dialect.In("tenant", "@tenants")}", new { tenants }, tx)];
                foreach (string t in tenants.Except(known, StringComparer.Ordinal))
                {
                    db.Execute("INSERT INTO tenant_locks (tenant) VALUES (@t) ON CONFLICT (tenant) DO NOTHING", new { t }, tx);
                }

                locked = [.. db.Query<string>($"SELECT tenant FROM tenant_locks WHERE {_dialect.In("tenant", "@tenants")} ORDER BY tenant{_dialect.ForUpdateSkipLocked}", new { tenants }, tx)];
                if (locked.Length == 0)
                {
                    return committedBefore;
                }
            }

            List<JobRecord> waiting = [.. db.Query<JobRow>(
                $"""
                SELECT {Columns} FROM (SELECT {Columns}, ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY id) AS n
                                       FROM jobs WHERE state = @queued AND {_dialect.In("tenant", "@locked")}) AS q
                WHERE n <= @perTenant ORDER BY id
                """,
                new { queued, locked, perTenant }, tx).Select(r => r.ToRecord())];
            List<JobRecord> active = [.. db.Query<JobRow>($"SELECT {Columns} FROM jobs WHERE {_dialect.In("state", "@ActiveStates")}", new { ActiveStates }, tx).Select(r => r.ToRecord())];
            // Stamped after the reads: an admission's time is after every finish it counted on.
            string now = Stamp();
            firstTry ??= now;
            long[] picked = [.. decide(waiting, active).Distinct()];
            if (picked.Length == 0)
            {
                return committedBefore;
            }

            long[] ids = [.. db.Query<long>($"SELECT id FROM jobs WHERE {_dialect.In("id", "@picked")} AND state = @queued ORDER BY id{_dialect.ForUpdateSkipLocked}", new { picked, queued }, tx)];
            if (ids.Length == 0)
            {
                return committedBefore;
            }

            db.Execute($"UPDATE jobs SET state = @preparing, host = @host, updated_at = @now WHERE {_dialect.In("id", "@ids")}", new { preparing, host, now, ids }, tx);
            db.Execute(
                $"INSERT INTO transitions (job_id, from_state, to_state, at, reason) SELECT id, @queued, @preparing, @now, @reason FROM jobs WHERE {_dialect.In("id", "@ids")} ORDER BY id",
                new { queued, preparing, now, reason, ids }, tx);
            List<JobRecord> admitted = [.. db.Query<JobRow>($"SELECT {Columns} FROM jobs WHERE {_dialect.In("id", "@ids")} ORDER BY id", new { ids }, tx).Select(r => r.ToRecord())];
            tx.Commit();
            return [.. committedBefore, .. admitted];
        });
    }

    /// <summary>
    /// Takes or renews the lease on polling <paramref name="tenant"/>'s forge for <paramref name="host"/>: true when this
    /// host holds it until <paramref name="lease"/> from now (it held it, or the holder's lease ran out).
    /// </summary>
    public bool TryHoldPoller(string tenant, string host, TimeSpan lease)
    {
        DateTimeOffset now = _time.GetUtcNow();
        return Use(db => db.Query<string>(
            """
            INSERT INTO pollers (tenant, host, lease_until) VALUES (@tenant, @host, @until)
            ON CONFLICT (tenant) DO UPDATE SET host = excluded.host, lease_until = excluded.lease_until
            WHERE pollers.host = excluded.host OR pollers.lease_until < @now
            RETURNING host
            """,
            new
            {
                tenant, host, until = (now + lease).ToString("O", CultureInfo.InvariantCulture),
                now = now.ToString("O", CultureInfo.InvariantCulture),
            }).Any());
    }

    /// <summary>The host holding each tenant's poller lease now (expired leases left out).</summary>
    public IReadOnlyDictionary<string, string> PollerHolders() => Use<IReadOnlyDictionary<string, string>>(db =>
        db.Query<(string Tenant, string Host)>("SELECT tenant, host FROM pollers WHERE lease_until >= @now", new { now = Stamp() })
            .ToDictionary(r => r.Tenant, r => r.Host, StringComparer.Ordinal));

    /// <summary>Gives up this host's poller leases (a clean shutdown: another host polls at once).</summary>
    public void ReleasePollers(string host) => Use(db => db.Execute("DELETE FROM pollers WHERE host = @host", new { host }));

    /// <summary>Asks the host that runs a live job to cancel it; false when the job is not live.</summary>
    public bool RequestCancel(long id, string reason) => Use(db => db.Execute(
        $"UPDATE jobs SET cancel_requested = @reason WHERE id = @id AND {_dialect.In("state", "@ActiveStates")}", new { id, reason, ActiveStates }) == 1);

    /// <summary>Cancel requests for live jobs <paramref name="host"/> holds: (job id, reason).</summary>
    public IReadOnlyList<(long JobId, string Reason)> CancelRequests(string host) => Use<IReadOnlyList<(long, string)>>(db =>
        [.. db.Query<(long, string)>(
            $"SELECT id, cancel_requested FROM jobs WHERE host = @host AND cancel_requested IS NOT NULL AND {_dialect.In("state", "@ActiveStates")} ORDER BY id",
            new { host, ActiveStates })]);

    private const string HostColumns = "name, vcpus, memory_mib, version, labels, state, started_at, heartbeat_at, detail, drained_by";

    private static HostRecord? GetHost(IDbConnection db, string name) =>
        db.QuerySingleOrDefault<HostRow>($"SELECT {HostColumns} FROM hosts WHERE name = @name", new { name })?.ToRecord();

#pragma warning disable IDE1006, CA1707 // Dapper maps snake_case columns onto these names.
    private sealed class HostRow
    {
        public string name { get; set; } = "";
        public long vcpus { get; set; }
        public long memory_mib { get; set; }
        public string version { get; set; } = "";
        public string labels { get; set; } = "";
        public string state { get; set; } = "";
        public string started_at { get; set; } = "";
        public string heartbeat_at { get; set; } = "";
        public string? detail { get; set; }
        public string? drained_by { get; set; }

        public HostRecord ToRecord() => new(
            name, (int)vcpus, (int)memory_mib, version, labels.Length == 0 ? [] : labels.Split(','), state,
            DateTimeOffset.Parse(started_at, CultureInfo.InvariantCulture), DateTimeOffset.Parse(heartbeat_at, CultureInfo.InvariantCulture),
            detail, drained_by);
    }
#pragma warning restore IDE1006, CA1707
}
