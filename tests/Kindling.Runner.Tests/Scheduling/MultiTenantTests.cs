using System.Globalization;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// Three tenants on one host that fits four VMs, each with a backlog: the first admission splits the host by
/// weight, a tenant never runs more VMs than its quota and the host never more than it fits (checked over the
/// whole run from the JobStore's transition times), every job finishes, and each VM sees only its own tenant's
/// secrets, which are masked in its own log and appear nowhere else.
/// </summary>
public sealed class MultiTenantTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly (string Name, double Weight, int MaxVms, string Secret)[] Tenants =
    [
        ("big", 2, 10, "big-tenant-secret-1"),
        ("small", 1, 10, "small-tenant-secret-2"),
        ("capped", 1, 1, "capped-tenant-secret-3"),
    ];

    [Fact]
    public async Task Run_ThreeTenantsOnFullHost_WeightedShareQuotasAndSecretsIsolated()
    {
        LocalForge[] forges = [.. Tenants.Select(t => Specs.Local(t.Name))];
        await using var h = new RunnerHarness(RunnerHarness.Merge([
            .. Tenants.Select((t, i) => RunnerHarness.LocalTenant(i, t.Name, t.MaxVms, t.Weight, ("TOKEN", t.Secret))),
            new() { ["Kindling:Host:Vcpus"] = "4", ["Kindling:Launcher:StubJobDuration"] = "00:00:00.100" }]), forges);
        foreach (LocalForge f in forges)
        {
            for (int i = 0; i < 6; i++)
            {
                f.Submit(Specs.Steps($"{f.Tenant}-{i}", ("print", "echo token=$TOKEN")), Specs.Labels);
            }
        }

        Assert.Equal(18, await h.Dispatcher.PollAsync(Ct)); // every backlog is queued before the loop admits anything
        await using (h.StartLoop(Ct))
        {
            for (int i = 0; i < 3000 && h.Store.ListByState(JobState.Cleaned).Count < 18; i++)
            {
                await Task.Delay(20, Ct);
            }
        }

        IReadOnlyList<JobRecord> jobs = h.Store.List(limit: 1000);
        Assert.Equal(18, jobs.Count);
        Assert.All(jobs, j => Assert.Equal(JobState.Cleaned, j.State));
        Assert.All(jobs, j => Assert.Contains(h.Store.Transitions(j.Id), t => t.To == JobState.Succeeded));

        // A job holds its vCPUs and memory from admission until its result is known (its VM is gone then).
        var intervals = jobs.Select(j =>
        {
            IReadOnlyList<JobTransition> ts = h.Store.Transitions(j.Id);
            return (j.Tenant, From: ts.First(t => t.To == JobState.Preparing).At, To: ts.First(t => JobLifecycle.IsFinished(t.To)).At);
        }).ToList();

        // The first admission round (the four earliest admissions, one Admit call) splits the host 2:1:1 by weight.
        Dictionary<string, int> firstRound = intervals.OrderBy(i => i.From).Take(4).GroupBy(i => i.Tenant).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["big"] = 2, ["small"] = 1, ["capped"] = 1 }, firstRound);
        Assert.Equal(4, MaxOverlap(intervals)); // the host was full, never over
        foreach ((string name, _, int maxVms, _) in Tenants)
        {
            Assert.InRange(MaxOverlap([.. intervals.Where(i => i.Tenant == name)]), 1, Math.Min(maxVms, 4));
        }

        // Secrets: only the tenant's own in its VMs; masked in its logs; nowhere in any file of the state directory.
        foreach (VmLaunchRequest r in h.Launcher.Requests)
        {
            long id = long.Parse(r.Mmds["kindling"]!["job"]!["id"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            string tenant = h.Store.Get(id)!.Tenant;
            string secrets = r.Mmds["kindling"]!["secrets"]!.ToJsonString();
            Assert.All(Tenants, t => Assert.Equal(t.Name == tenant, secrets.Contains(t.Secret, StringComparison.Ordinal)));
        }

        foreach (JobRecord j in jobs)
        {
            Assert.Contains("token=***", await File.ReadAllTextAsync(j.LogPath!, Ct));
        }

        foreach (string file in Directory.GetFiles(h.StateDirectory, "*", SearchOption.AllDirectories))
        {
            string text = await File.ReadAllTextAsync(file, Ct);
            Assert.All(Tenants, t => Assert.DoesNotContain(t.Secret, text, StringComparison.Ordinal));
        }
    }

    /// <summary>The most intervals open at one instant (an interval ending when another starts does not overlap it).</summary>
    private static int MaxOverlap(IReadOnlyList<(string Tenant, DateTimeOffset From, DateTimeOffset To)> intervals)
    {
        int open = 0, max = 0;
        foreach ((DateTimeOffset _, int delta) in intervals
                     .SelectMany(i => new[] { (i.From, +1), (i.To, -1) })
                     .OrderBy(e => e.Item1).ThenBy(e => e.Item2))
        {
            open += delta;
            max = Math.Max(max, open);
        }

        return max;
    }
}
