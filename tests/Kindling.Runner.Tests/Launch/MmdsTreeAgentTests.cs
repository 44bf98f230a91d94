using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Kindling.Images.Guest;
using Kindling.Images.Tests.Guest;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Testing;
using GuestRunResult = Kindling.Images.Tests.Guest.GuestRunResult;

namespace Kindling.Runner.Tests.Launch;

/// <summary>
/// The MMDS contract end to end without a VM: the tree <see cref="MmdsTree"/> builds is PUT to a real kindling-vmm
/// (as <see cref="VmmLauncher"/> does), read back from it, and served over MMDS V2 to the real guest agent
/// (images/guest/agent.sh), run outside a VM as the agent tests run it (a network namespace with the MMDS address,
/// private mount and PID namespaces). The job's steps must run as the spec says and its env and secrets arrive.
/// </summary>
public sealed class MmdsTreeAgentTests : IDisposable
{
    private const string MmdsAddress = "169.254.169.254";
    private const string Secret = "s3cr3t-<&>'+ü-value";

    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-mmds-agent-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string AgentPath => Path.Combine(RepoPaths.Root, "images", "guest", "agent.sh");

    private static JobSpec Spec => new()
    {
        Name = "contract",
        Env = new Dictionary<string, string> { ["GREETING"] = "hello <world> & 'friends'", ["SHARED"] = "from-job" },
        Steps =
        [
            new StepSpec
            {
                Name = "Build & test",
                Run = "echo \"$GREETING\" from $(pwd)\necho shared=$SHARED step=$STEPVAR\n[ \"$API_KEY\" = \"$EXPECTED\" ] && echo secret-arrived-intact\necho token is $API_KEY 2>&1 && true",
                Env = new Dictionary<string, string> { ["STEPVAR"] = "step-only", ["SHARED"] = "from-step", ["EXPECTED"] = Secret },
            },
            new StepSpec { Name = "Bash in /tmp", Run = "set -o pipefail; echo shell=$BASH_VERSION | cut -c1-8; echo cwd=$(pwd)", Shell = "bash", WorkingDirectory = "/tmp" },
            new StepSpec { Name = "Tolerated failure", Run = "echo about to fail; exit 4", ContinueOnError = true },
            new StepSpec { Name = "Failing", Run = "false\necho not reached under set -e" },
            new StepSpec { Name = "Skipped after failure", Run = "echo should not run" },
            new StepSpec { Name = "On failure", Run = "echo handling failure; echo step var is \"[$STEPVAR]\"", If = "failure()" },
            new StepSpec { Name = "Always ✓", Run = "echo always", If = "always()" },
        ],
    };

    [RootFact]
    public async Task Agent_RunnersOwnTreeThroughRealVmm_StepsRunEnvAndSecretsArrive()
    {
        JsonObject built = JobDocument.Mmds(MmdsTree.Build(77, "contract", TimeSpan.FromMinutes(10), Spec, new Dictionary<string, string> { ["API_KEY"] = Secret }, null, null));
        JsonNode served = await ThroughVmmAsync(built);
        Assert.True(JsonNode.DeepEquals(built, served), $"kindling-vmm changed the tree: {served.ToJsonString()}");

        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), served);
        GuestRunResult r = await GuestRun.RunAsync(ns.Name, $"mount -t proc proc /proc; exec /bin/busybox sh '{AgentPath}'", new Dictionary<string, string>
        {
            ["KINDLING_BUSYBOX"] = "/bin/busybox", ["KINDLING_CMDLINE"] = "",
        }, Ct);

        Assert.True(r.ExitCode == 1, r.Output);
        Assert.Equal(
            [
                "##kindling[job-start id=77]",
                $"##kindling[step-start n=0 name={GuestRunResult.B64Url("Build & test")}]",
                "##kindling[step-end n=0 exit=0]",
                "##kindling[step-files n=0 output= env= path= summary= state=]",
                $"##kindling[step-start n=1 name={GuestRunResult.B64Url("Bash in /tmp")}]",
                "##kindling[step-end n=1 exit=0]",
                "##kindling[step-files n=1 output= env= path= summary= state=]",
                $"##kindling[step-start n=2 name={GuestRunResult.B64Url("Tolerated failure")}]",
                "##kindling[step-end n=2 exit=4]",
                "##kindling[step-files n=2 output= env= path= summary= state=]",
                $"##kindling[step-start n=3 name={GuestRunResult.B64Url("Failing")}]",
                "##kindling[step-end n=3 exit=1]",
                "##kindling[step-files n=3 output= env= path= summary= state=]",
                $"##kindling[step-skip n=4 name={GuestRunResult.B64Url("Skipped after failure")} reason=if]",
                $"##kindling[step-start n=5 name={GuestRunResult.B64Url("On failure")}]",
                "##kindling[step-end n=5 exit=0]",
                "##kindling[step-files n=5 output= env= path= summary= state=]",
                $"##kindling[step-start n=6 name={GuestRunResult.B64Url("Always ✓")}]",
                "##kindling[step-end n=6 exit=0]",
                "##kindling[step-files n=6 output= env= path= summary= state=]",
                "##kindling[job-end result=failed exit=1]",
            ],
            r.ControlLinesWithoutTimes);
        Assert.Contains("hello <world> & 'friends' from /\n", r.Output);      // job env; no /workspace outside a VM
        Assert.Contains("shared=from-step step=step-only\n", r.Output);      // step env over job env
        Assert.Contains("secret-arrived-intact\n", r.Output);                // the secret's exact value, special characters and all
        Assert.Contains("token is ***\n", r.Output);
        Assert.DoesNotContain(Secret, r.Output);
        Assert.Contains("shell=5.", r.Output);                               // shell: bash
        Assert.Contains("cwd=/tmp\n", r.Output);                             // working_directory
        Assert.Contains("about to fail\n", r.Output);
        Assert.DoesNotContain("not reached under set -e", r.Output);
        Assert.DoesNotContain("should not run", r.Output);
        Assert.Contains("step var is []\n", r.Output);                       // step env does not leak into later steps
        Assert.Contains("always\n", r.Output);
    }

    [RootFact]
    public async Task Agent_CommandFiles_ReportedMaskedAndEnvAndPathReachLaterSteps()
    {
        var spec = new JobSpec
        {
            Name = "files",
            Steps =
            [
                new StepSpec
                {
                    Name = "write",
                    Run = "echo v=1 >> \"$GITHUB_OUTPUT\"; printf 'm<<EOF\\nx\\ny\\nEOF\\n' >> \"$GITHUB_OUTPUT\"; echo \"t=$API_KEY\" >> \"$GITHUB_OUTPUT\"\n" +
                          "echo FROM_ENV=later >> \"$GITHUB_ENV\"; printf 'ML<<X\\na\\nb\\nX\\n' >> \"$GITHUB_ENV\"; echo /opt/added >> \"$GITHUB_PATH\"",
                },
                new StepSpec { Name = "read", Run = "echo \"env=$FROM_ENV ml=$(echo $ML)\"; echo \"path=${PATH%%:*}\"; test -s \"$GITHUB_OUTPUT\" || echo fresh output file" },
            ],
        };
        JsonObject built = JobDocument.Mmds(MmdsTree.Build(78, "files", TimeSpan.FromMinutes(10), spec, new Dictionary<string, string> { ["API_KEY"] = Secret }, null, null));
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), built);
        GuestRunResult r = await GuestRun.RunAsync(ns.Name, $"mount -t proc proc /proc; exec /bin/busybox sh '{AgentPath}'", new Dictionary<string, string>
        {
            ["KINDLING_BUSYBOX"] = "/bin/busybox", ["KINDLING_CMDLINE"] = "", ["KINDLING_FILES_DIR"] = Path.Combine(_dir, "steps"),
        }, Ct);

        Assert.True(r.ExitCode == 0, r.Output);
        FramingLine files = FramingLine.TryParse(Assert.Single(r.Output.Split('\n'), l => l.StartsWith("##kindling[step-files n=0 ", StringComparison.Ordinal)))!;
        Assert.Equal([new("v", "1"), new("m", "x\ny"), new("t", "***")], GuestCommandFiles.ParseEntries(files.Text("output")!));
        Assert.Contains("env=later ml=a b\n", r.Output);
        Assert.Contains("path=/opt/added\n", r.Output);
        Assert.Contains("fresh output file\n", r.Output);
        Assert.DoesNotContain(Secret, r.Output);
    }

    /// <summary>PUT /mmds to a real kindling-vmm (not started: no KVM needed) and GET it back, as the guest's MMDS would serve it.</summary>
    private async Task<JsonNode> ThroughVmmAsync(JsonObject tree)
    {
        string socket = Path.Combine(_dir, "api.sock");
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "kindling-vmm"), ["--api-sock", socket, "--id", "mmds-contract"])
        {
            RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true,
        };
        using Process vmm = Process.Start(psi)!;
        try
        {
            for (var clock = Stopwatch.StartNew(); !await VmmLauncher.AcceptsAsync(socket, Ct); await Task.Delay(20, Ct))
            {
                if (vmm.HasExited)
                {
                    Assert.Fail("kindling-vmm exited: " + await vmm.StandardError.ReadToEndAsync(Ct));
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "kindling-vmm did not open its API socket");
            }

            using var api = new VmmApiClient(socket);
            await api.PutAsync("mmds", tree.DeepClone(), Ct);
            return await api.GetAsync("mmds", Ct) ?? throw new InvalidOperationException("GET /mmds returned nothing");
        }
        finally
        {
            vmm.Kill();
            await vmm.WaitForExitAsync(Ct);
        }
    }
}
