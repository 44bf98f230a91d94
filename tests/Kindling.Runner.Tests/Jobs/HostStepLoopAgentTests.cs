using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Kindling.Images.Tests.Guest;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;
using Kindling.Runner.Tests.Cli;
using Kindling.Runner.Tests.Replay;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// Host-driven steps end to end without a VM: the real agent (images/guest/agent.sh, run outside a VM as the agent
/// tests run it) against an MMDS V2 endpoint, the runner's LogPump reading its console as it is written, and
/// <see cref="HostStepLoop"/> with <see cref="ReplayStepSource"/> handing each step over by changing MMDS, as the
/// runner PATCHes kindling-vmm's.
/// </summary>
public sealed class HostStepLoopAgentTests : IDisposable
{
    private const string MmdsAddress = "169.254.169.254";

    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-host-steps-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string AgentPath => Path.Combine(RepoPaths.Root, "images", "guest", "agent.sh");

    /// <summary>A VM whose PATCH /mmds lands in the test's MMDS endpoint (only kindling/steps/N changes in host mode).</summary>
    private sealed class ServedVm(MmdsTestServer mmds) : IVmHandle
    {
        public int Pid => 0;
        public Task<int> Exited { get; } = new TaskCompletionSource<int>().Task;
        public Task KillAsync() => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public Task PatchMmdsAsync(JsonObject patch, CancellationToken ct)
        {
            foreach ((string n, JsonNode? v) in patch["kindling"]!["steps"]!.AsObject())
            {
                mmds.Set($"kindling/steps/{n}", v?.GetValue<string>());
            }

            return Task.CompletedTask;
        }
    }

    private sealed class Lines : ILogObserver
    {
        public List<string> All { get; } = [];
        public void OnLine(long offset, string maskedLine) => All.Add(maskedLine);
    }

    [RootFact]
    public async Task Agent_HostDrivenReplayJob_GitHubEnvOfStep1DecidesTheIfOfLaterSteps()
    {
        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse(ReplayStepTimeTests.Workflow, "ci.yml"), "a", ReplayCorpus.Inputs()));
        var lines = new Lines();
        var loop = new HostStepLoop(new ReplayStepSource(plan), lines);
        JsonObject first = loop.FirstMmds(MmdsTree.Build(9, "a", TimeSpan.FromMinutes(5), plan.Spec, new Dictionary<string, string>(), null, null));
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), first);

        Stopwatch clock = Stopwatch.StartNew();
        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop);
        await pump.RunAsync(agent.StandardOutput.BaseStream, Path.Combine(_dir, "job.log"), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;
        TestContext.Current.SendDiagnosticMessage($"host-driven job of 4 steps: {mmds.Requests.Count} MMDS requests, {clock.Elapsed.TotalSeconds:F2} s");

        string log = string.Join('\n', lines.All);
        Assert.True(agent.ExitCode == 0, log);
        Assert.Contains("fast path 7 mode fast", log, StringComparison.Ordinal);
        Assert.DoesNotContain("slow path", log, StringComparison.Ordinal);
        Assert.Contains("setup was success", log, StringComparison.Ordinal);
        Assert.Equal(new JobEnd(true, 0), pump.End);
        string[] gets = [.. mmds.Requests.Select(q => q[..q.IndexOf(" token=", StringComparison.Ordinal)]).Distinct()];
        Assert.Equal(["PUT /latest/api/token", "GET /kindling/document", "GET /kindling/steps/0", "GET /kindling/steps/1", "GET /kindling/steps/2",
            "GET /kindling/steps/3", "GET /kindling/steps/4"], gets);
    }

    /// <summary>The agent as GuestRun runs it (network namespace with MMDS, private mount and PID namespaces), its output streamed.</summary>
    private Process StartAgent(string netns)
    {
        string script = Path.Combine(_dir, "agent-run.sh");
        File.WriteAllText(script, $"mount -t proc proc /proc; exec /bin/busybox sh '{AgentPath}' 2>&1\n");
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])["netns", "exec", netns, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KINDLING_AGENT_NO_REBOOT=1",
                     "KINDLING_BUSYBOX=/bin/busybox", "KINDLING_CMDLINE=", $"KINDLING_FILES_DIR={Path.Combine(_dir, "steps")}",
                     "unshare", "--mount", "--pid", "--fork", "--propagation", "private", "sh", script])
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }
}
