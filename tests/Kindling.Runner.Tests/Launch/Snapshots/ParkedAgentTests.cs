using System.Net;
using System.Text.Json.Nodes;
using Kindling.Images.Guest;
using Kindling.Images.Tests.Guest;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using GuestRunResult = Kindling.Images.Tests.Guest.GuestRunResult;

namespace Kindling.Runner.Tests.Launch.Snapshots;

/// <summary>
/// The real guest agent (images/guest/agent.sh) parked as in a golden snapshot (<c>kindling.park=1</c>), outside a
/// VM as the agent tests run it: it says agent-waiting, polls, and when the job arrives on what is now a new VMM
/// (its old token forgotten) it takes a new token, applies the host's clock and seed, then runs the job.
/// </summary>
public sealed class ParkedAgentTests : IDisposable
{
    private const string MmdsAddress = "169.254.169.254";
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-parked-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [RootFact]
    public async Task Agent_ParkedThenRestored_NewTokenHostClockAndSeedBeforeTheFirstStep()
    {
        var spec = new JobSpec { Name = "parked", Steps = [new StepSpec { Name = "s", Run = "echo step-ran" }] };
        DateTimeOffset clock = DateTimeOffset.FromUnixTimeSeconds(1_790_000_000);
        JsonObject tree = MmdsTree.Build(61, "parked", TimeSpan.FromMinutes(5), spec, new Dictionary<string, string>(), null, null, now: clock);
        tree["kindling"]!["host"]!["generation"] = "5";
        string seed = tree["kindling"]!["host"]!["seed"]!.GetValue<string>();
        string urandom = Path.Combine(_dir, "urandom");
        File.WriteAllText(urandom, "");

        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), new JsonObject { ["kindling"] = new JsonObject() });
        Task<GuestRunResult> run = GuestRun.RunAsync(ns.Name, $"mount -t proc proc /proc; exec /bin/busybox sh '{Path.Combine(RepoPaths.Root, "images", "guest", "agent.sh")}'", new Dictionary<string, string>
        {
            ["KINDLING_BUSYBOX"] = "/bin/busybox", ["KINDLING_CMDLINE"] = "kindling.park=1", ["KINDLING_AGENT_NO_CLOCK"] = "1", ["KINDLING_URANDOM"] = urandom,
        }, Ct);

        // Parked: it polls for its document. Then the "restore": a new VMM (no old tokens) holding the job.
        DateTime until = DateTime.UtcNow.AddSeconds(60);
        while (DocumentGets(mmds) < 2 && DateTime.UtcNow < until && !run.IsCompleted)
        {
            await Task.Delay(20, Ct);
        }

        Assert.True(DocumentGets(mmds) >= 2, "the parked agent did not poll for its document");
        mmds.ForgetTokens();
        mmds.Set("kindling/document", JobDocument.Encode(tree));
        GuestRunResult r = await run;

        Assert.True(r.ExitCode == 0, r.Output);
        string[] lines = r.Output.Split('\n');
        int waiting = Array.IndexOf(lines, "##kindling[agent-waiting]");
        int host = Array.FindIndex(lines, l => l.StartsWith("kindling: generation 5, clock @1790000000, rng reseeded from document", StringComparison.Ordinal));
        int start = Array.IndexOf(lines, "##kindling[job-start id=61]");
        Assert.True(waiting >= 0 && waiting < host && host < start, r.Output);
        Assert.Contains("step-ran", lines);
        Assert.Equal(seed, File.ReadAllText(urandom)[..64]);
        Assert.True(mmds.RequestsSeen().Count(q => q.StartsWith("PUT /latest/api/token", StringComparison.Ordinal)) >= 2, "no new token after the restore");
    }

    private static int DocumentGets(MmdsTestServer mmds)
    {
        return mmds.RequestsSeen().Count(q => q.StartsWith("GET /kindling/document", StringComparison.Ordinal));
    }
}
