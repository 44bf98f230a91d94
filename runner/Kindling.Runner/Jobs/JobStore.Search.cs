using Dapper;
using System.Data.Common;

namespace Kindling.Runner.Jobs;

/// <summary>A job with its result: for a cleaned job, the finished state it was cleaned from.</summary>
public sealed record JobWithResult(JobRecord Job, JobState Result);

/// <summary>Filters of the admin page's job list. <see cref="State"/> matches a cleaned job's result too.</summary>
public sealed record JobSearch(string? Tenant = null, JobState? State = null, string? Repository = null, long? BeforeId = null, int Limit = 50);

public sealed partial class JobStore
{
    /// <summary>The state a job is shown as: its state, or for a cleaned job the finished state it was cleaned from.</summary>
    private const string ResultExpression =
        """
        CASE WHEN state = 'cleaned'
             THEN COALESCE((SELECT t.from_state FROM transitions t WHERE t.job_id = jobs.id AND t.to_state = 'cleaned' ORDER BY t.id DESC LIMIT 1), 'cleaned')
             ELSE state END
        """;

    /// <summary>A page of jobs with their results, newest first (keyset paging on <see cref="JobSearch.BeforeId"/>).</summary>
    public IReadOnlyList<JobWithResult> Search(JobSearch q)
    {
        return Use<IReadOnlyList<JobWithResult>>(db =>
        {
            return [.. db.Query<JobRow, ResultColumn, JobWithResult>(
                $"""
                SELECT * FROM (SELECT {Columns}, {ResultExpression} AS result FROM jobs
                               WHERE (@Tenant IS NULL OR tenant = @Tenant) AND (@BeforeId IS NULL OR id < @BeforeId)
                                 AND (@Repository IS NULL OR {_dialect.Contains("repository", "@Repository")})) AS q
                WHERE (@state IS NULL OR result = @state OR state = @state)
                ORDER BY id DESC LIMIT @Limit
                """,
                (job, r) => new JobWithResult(job.ToRecord(), JobLifecycle.Parse(r.result)),
                new { q.Tenant, q.BeforeId, q.Repository, q.Limit, state = q.State is { } s ? JobLifecycle.Name(s) : null },
                splitOn: "result")];
        });
    }

    /// <summary>The job and its result; null when there is no such job.</summary>
    public JobWithResult? GetWithResult(long id)
    {
        return Use<JobWithResult?>(db =>
        {
            return db.Query<JobRow, ResultColumn, JobWithResult>(
                $"SELECT {Columns}, {ResultExpression} AS result FROM jobs WHERE id = @id",
                (job, r) => new JobWithResult(job.ToRecord(), JobLifecycle.Parse(r.result)), new { id }, splitOn: "result").SingleOrDefault();
        });
    }

    /// <summary>Jobs per result (a cleaned job counts as what it was cleaned from); every state present.</summary>
    public IReadOnlyDictionary<JobState, int> CountByResult()
    {
        return Use<IReadOnlyDictionary<JobState, int>>(db =>
        {
            var counts = Enum.GetValues<JobState>().ToDictionary(s => s, _ => 0);
            foreach ((string state, long n) in db.Query<(string, long)>($"SELECT {ResultExpression} AS result, COUNT(*) FROM jobs GROUP BY result"))
            {
                counts[JobLifecycle.Parse(state)] = (int)n;
            }

            return counts;
        });
    }

    /// <summary>Distinct tenants that have jobs (a tenant removed from the config still shows its history).</summary>
    public IReadOnlyList<string> TenantsWithJobs()
    {
        return Use<IReadOnlyList<string>>(db =>
        {
            return [.. db.Query<string>("SELECT DISTINCT tenant FROM jobs ORDER BY tenant")];
        });
    }

#pragma warning disable IDE1006, CA1707 // Dapper maps the snake_case column onto this name.
    private sealed class ResultColumn
    {
        public string result { get; set; } = "";
    }
#pragma warning restore IDE1006, CA1707
}
