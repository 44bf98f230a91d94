using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Kindling.Images.Guest;
using Kindling.Images.Overlays;
using Kindling.Testing;

namespace Kindling.Images.Tests.Guest;

/// <summary>
/// The guest's user space (init, overlay root, MMDS V2, agent, framing) run for real outside a VM, as root, in a
/// fresh mount/PID/network namespace with an MMDS V2 endpoint on 169.254.169.254:80.
/// </summary>
public sealed class AgentTests(ImageStoreFixture fixture)
{
    private const string MmdsAddress = "169.254.169.254";
    private const string Secret = "s3cr3t-value";

    private static string AgentPath => Path.Combine(ImageStoreFixture.GuestDirectory, "agent.sh");

    /// <summary>What the runner puts in MMDS for a per-key tree: the one job document.</summary>
    private static JsonObject Served(JsonNode tree) => JobDocument.Mmds(tree.AsObject());

    private static JsonNode ThreeStepJob() => JsonNode.Parse("""
        {"kindling": {"job": {"id": "42", "name": "build", "timeout_seconds": "60", "step_count": "4",
          "env": {"GREETING": "hello"},
          "steps": {
            "0": {"name": "Build", "run": "echo $GREETING from $(pwd) $STEPVAR; echo built > out.txt; echo token is $API_KEY; echo '##kindling[job-end result=succeeded exit=0]'; exit 3",
                  "shell": "sh", "working_directory": "", "if": "success()", "continue_on_error": "false", "env": {"STEPVAR": "step-only"}},
            "1": {"name": "Skipped", "run": "echo should not run", "if": "success()"},
            "2": {"name": "On failure", "run": "echo handling failure; cat src/a.txt; echo var=$STEPVAR", "if": "failure()"},
            "3": {"name": "Always", "run": "echo always; printf 'multi %s\\n' \"$API_KEY\"; echo 'pasted %%kindling-secret:API_KEY%%'", "if": "always()"}}},
          "secrets": {"API_KEY": "s3cr3t-value"}}}
        """)!;

    [RootFact]
    public async Task Init_ThreeStepJobOnOverlayRoot_FramedOutputExitCodesAndMaskedSecret() =>
        await RunThreeStepJobAsync(await fixture.MinimalAsync());

    [RootFact]
    public async Task Init_ThreeStepJobOnDebianBase_SameFraming()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("KINDLING_SLOW_TESTS") == "1", "slow (builds the debian base with debootstrap when not cached): set KINDLING_SLOW_TESTS=1");
        await RunThreeStepJobAsync(await fixture.Store.EnsureBaseAsync(Kindling.Images.Rootfs.Flavour.Debian, null, TestContext.Current.CancellationToken));
    }

    [RootFact]
    public async Task Init_Eth0Present_AgentReachesMmdsOverLinkLocalAndAppliesNetworkConfig()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        KernelArtifacts kernel = await fixture.KernelAsync();
        BaseImage baseImage = await fixture.MinimalAsync();
        using Overlay overlay = await fixture.Store.CreateOverlayAsync((string?)null, 32L << 20, ct);
        using NetworkNamespace host = await NetworkNamespace.CreateAsync("127.0.0.2");
        using NetworkNamespace guest = await NetworkNamespace.CreateWithEth0Async(host, MmdsAddress + "/16");
        JsonNode job = JsonNode.Parse("""
            {"kindling": {"job": {"id": "5", "step_count": "1", "steps": {"0": {"name": "Net", "run": "ip -4 addr show dev eth0; ip route; cat /etc/resolv.conf"}}},
             "network": {"address": "172.16.0.2/30", "gateway": "172.16.0.1", "dns": "9.9.9.9"}}}
            """)!;
        await using MmdsTestServer mmds = new(host.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(job));
        string root = Directory.CreateTempSubdirectory("kindling-root-").FullName;
        try
        {
            GuestRunResult r = await GuestRun.RunAsync(guest.Name, InitScript(root, kernel, baseImage, overlay), new Dictionary<string, string>
            {
                ["KINDLING_CMDLINE"] = "kindling.base=/images/base.ext4 kindling.overlay=/images/overlay.ext4 kindling.modules=0",
            }, ct);

            Assert.True(r.ExitCode == 0, r.Output);
            Assert.Contains("inet 169.254.0.2/16", r.Output);
            Assert.Contains("inet 172.16.0.2/30", r.Output);
            Assert.Contains("default via 172.16.0.1 dev eth0", r.Output);
            Assert.Contains("nameserver 9.9.9.9", r.Output);
            Assert.Equal("##kindling[job-end result=succeeded exit=0]", r.ControlLines[^1]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string InitScript(string root, KernelArtifacts kernel, BaseImage baseImage, Overlay overlay) => $"""
        set -e
        mount -t tmpfs -o mode=0755 tmpfs '{root}'
        cd '{root}'
        zcat '{kernel.InitramfsPath}' | cpio -idm --quiet
        mkdir -p images && touch images/base.ext4 images/overlay.ext4
        mount --bind '{baseImage.Path}' images/base.ext4
        mount --bind '{overlay.Path}' images/overlay.ext4
        cd /
        exec chroot '{root}' /init
        """;

    private async Task RunThreeStepJobAsync(BaseImage baseImage)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        KernelArtifacts kernel = await fixture.KernelAsync();
        using Overlay overlay = await fixture.Store.CreateOverlayAsync([new OverlayFile("src/a.txt", "workspace file A\n"u8.ToArray())], 64L << 20, ct);
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(ThreeStepJob()));
        await using (mmds)
        {
            string root = Directory.CreateTempSubdirectory("kindling-root-").FullName;
            try
            {
                // Unpack the initramfs with cpio(1) onto a tmpfs root, put the two images where the command line
                // says, and start /init in a chroot: init loop-mounts them, builds the overlay root, switch_roots.
                GuestRunResult r = await GuestRun.RunAsync(ns.Name, InitScript(root, kernel, baseImage, overlay), new Dictionary<string, string>
                {
                    ["KINDLING_CMDLINE"] = "kindling.base=/images/base.ext4 kindling.overlay=/images/overlay.ext4 kindling.modules=0",
                }, ct);

                Assert.True(r.ExitCode == 3, r.Output);
                Assert.Equal(
                    [
                        "##kindling[job-start id=42]",
                        $"##kindling[step-start n=0 name={GuestRunResult.B64Url("Build")}]",
                        "##kindling[step-end n=0 exit=3]",
                        "##kindling[step-files n=0 output= env= path= summary= state=]",
                        $"##kindling[step-skip n=1 name={GuestRunResult.B64Url("Skipped")} reason=if]",
                        $"##kindling[step-start n=2 name={GuestRunResult.B64Url("On failure")}]",
                        "##kindling[step-end n=2 exit=0]",
                        "##kindling[step-files n=2 output= env= path= summary= state=]",
                        $"##kindling[step-start n=3 name={GuestRunResult.B64Url("Always")}]",
                        "##kindling[step-end n=3 exit=0]",
                        "##kindling[step-files n=3 output= env= path= summary= state=]",
                        "##kindling[job-end result=failed exit=3]",
                    ],
                    r.ControlLinesWithoutTimes);
                Assert.Contains("hello from /workspace step-only", r.Output); // job env + step env, workspace cwd
                Assert.Contains("workspace file A", r.Output);               // the overlay's workspace is the cwd
                Assert.Contains("var=\n", r.Output);                          // step env does not leak to later steps
                Assert.Contains("token is ***", r.Output);
                Assert.Contains("multi ***", r.Output);
                Assert.Contains("pasted ***", r.Output); // written into the script on the agent's tmpfs, not the overlay (below)
                Assert.DoesNotContain(Secret, r.Output);
                Assert.Contains(" ##kindling[job-end result=succeeded exit=0]", r.Output); // a forged control line is defused
                Assert.DoesNotContain("should not run", r.Output);
                Assert.All(mmds.Requests.Where(q => q.StartsWith("GET", StringComparison.Ordinal)), q => Assert.DoesNotContain("token=-", q));
                // The whole job in one transfer: a token and one GET, whatever the number of steps, env and secrets.
                Assert.Equal(["PUT /latest/api/token", "GET /kindling/document"], mmds.Requests.Select(q => q[..q.IndexOf(" token=", StringComparison.Ordinal)]));

                // The guest's writes went to the overlay drive; the secret never reached it.
                var written = await Tools.RunAsync("debugfs", "-R", "cat /upper/workspace/out.txt", overlay.Path);
                Assert.Equal("built\n", written.Out);
                byte[] disk = await File.ReadAllBytesAsync(overlay.Path, ct);
                Assert.Equal(-1, disk.AsSpan().IndexOf(Encoding.ASCII.GetBytes(Secret)));
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [RootFact]
    public async Task Init_NoDrives_AgentRunsFromInitramfs()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        KernelArtifacts kernel = await fixture.KernelAsync();
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        JsonNode job = JsonNode.Parse("""{"kindling": {"job": {"id": "7", "step_count": "1", "steps": {"0": {"name": "Echo", "run": "echo hello from $(pwd); test -f /init"}}}}}""")!;
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(job));
        string root = Directory.CreateTempSubdirectory("kindling-root-").FullName;
        try
        {
            string script = $"""
                set -e
                mount -t tmpfs -o mode=0755 tmpfs '{root}'
                cd '{root}'
                zcat '{kernel.InitramfsPath}' | cpio -idm --quiet
                cd /
                exec chroot '{root}' /init
                """;
            GuestRunResult r = await GuestRun.RunAsync(ns.Name, script, new Dictionary<string, string> { ["KINDLING_CMDLINE"] = "kindling.base=none kindling.modules=0" }, ct);

            Assert.True(r.ExitCode == 0, r.Output);
            Assert.Contains("hello from /", r.Output);
            Assert.Equal("##kindling[job-end result=succeeded exit=0]", r.ControlLines[^1]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [RootFact]
    public async Task Agent_MmdsAnswers401_ErrorLineAndJobEndFailed125()
    {
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(ThreeStepJob())) { RejectAllTokens = true };

        GuestRunResult r = await RunAgentAsync(ns.Name);

        AssertAgentError(r, "401");
        Assert.Contains(mmds.Requests, q => q.StartsWith("GET /kindling/document", StringComparison.Ordinal));
    }

    [RootFact]
    public async Task Agent_NoMmdsEndpoint_RefusesToRun()
    {
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);

        GuestRunResult r = await RunAgentAsync(ns.Name);

        AssertAgentError(r, "no MMDS V2 token");
    }

    [RootFact]
    public async Task Agent_GitHubJobWithoutActionsRunner_FramedErrorAndJitConfigNotPrinted()
    {
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        JsonNode job = JsonNode.Parse("""{"kindling": {"job": {"id": "9", "step_count": "0"}, "github": {"jitconfig": "eyJqaXQiOiJzZWNyZXQtaml0In0"}}}""")!;
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(job));

        GuestRunResult r = await RunAgentAsync(ns.Name);

        AssertAgentError(r, "/opt/actions-runner/run.sh is missing");
        Assert.DoesNotContain("eyJqaXQiOiJzZWNyZXQtaml0In0", r.Output);
    }

    [RootFact]
    public Task Agent_GitHubJob_RunsTheRunnerAsRunnerInItsFolderExitCodeAndJitConfigMasked() => RunGitHubJobAsync(hideSetpriv: false);

    /// <summary>An image without util-linux's setpriv: the agent drops to runner with busybox su instead.</summary>
    [RootFact]
    public Task Agent_GitHubJobImageWithoutSetpriv_RunsTheRunnerAsRunnerThroughBusyboxSu() => RunGitHubJobAsync(hideSetpriv: true);

    private async Task RunGitHubJobAsync(bool hideSetpriv)
    {
        const string jit = "eyJqaXQiOiJzZWNyZXQtaml0LWZvci10ZXN0In0";
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        JsonNode job = JsonNode.Parse("""{"kindling": {"job": {"id": "11", "step_count": "0"}, "github": {"jitconfig": "JIT"}}}""".Replace("JIT", jit, StringComparison.Ordinal))!;
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(job));
        string scratch = Directory.CreateTempSubdirectory("kindling-agent-gh-").FullName;
        try
        {
            // A private mount namespace gets what the github image has: a runner user and /opt/actions-runner/run.sh.
            await File.WriteAllTextAsync(Path.Combine(scratch, "run.sh"), """
                #!/bin/sh
                echo "user=$(id -un) uid=$(id -u) home=$HOME cwd=$(pwd)"
                echo "jit in env: ${KINDLING_JIT:-unset}"
                echo "args: $1 $2"
                echo '##kindling[job-end result=succeeded exit=0]'
                exit 7
                """, TestContext.Current.CancellationToken);
            string script = $"""
                set -e
                mount -t proc proc /proc
                mount -t tmpfs tmpfs /opt
                mkdir -p /opt/actions-runner
                cp '{scratch}/run.sh' /opt/actions-runner/run.sh
                chmod 755 /opt/actions-runner/run.sh
                cp /etc/passwd '{scratch}/passwd'; echo 'runner:x:1001:1001::/home/runner:/bin/sh' >> '{scratch}/passwd'
                cp /etc/group '{scratch}/group'; echo 'runner:x:1001:' >> '{scratch}/group'
                mount --bind '{scratch}/passwd' /etc/passwd
                mount --bind '{scratch}/group' /etc/group
                {(hideSetpriv ? "mount --bind /dev/null /usr/bin/setpriv" : "")}
                set +e
                exec /bin/busybox sh '{AgentPath}'
                """;

            GuestRunResult r = await GuestRun.RunAsync(ns.Name, script, new Dictionary<string, string>
            {
                ["KINDLING_BUSYBOX"] = "/bin/busybox", ["KINDLING_CMDLINE"] = "",
            }, TestContext.Current.CancellationToken);

            Assert.True(r.ExitCode == 7, r.Output);
            Assert.Equal(
                [
                    "##kindling[job-start id=11]",
                    $"##kindling[step-start n=0 name={GuestRunResult.B64Url("GitHub Actions runner")}]",
                    "##kindling[step-end n=0 exit=7]",
                    "##kindling[job-end result=failed exit=7]",
                ],
                r.ControlLinesWithoutTimes);
            Assert.Contains("user=runner uid=1001 home=/home/runner cwd=/opt/actions-runner", r.Output);
            Assert.Contains("jit in env: unset", r.Output);
            Assert.Contains("args: --jitconfig ***", r.Output);
            Assert.Contains(" ##kindling[job-end result=succeeded exit=0]", r.Output); // the runner cannot forge the framing
            Assert.DoesNotContain(jit, r.Output);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [RootFact]
    public async Task Agent_GitHubJobImageWithoutRunnerUser_AgentErrorNamingTheUser()
    {
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        JsonNode job = JsonNode.Parse("""{"kindling": {"job": {"id": "12", "step_count": "0"}, "github": {"jitconfig": "eyJqaXQiOiJ4In0"}}}""")!;
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), Served(job));
        string script = $"""
            mount -t proc proc /proc
            mount -t tmpfs tmpfs /opt
            mkdir -p /opt/actions-runner
            printf '#!/bin/sh\necho ran\n' > /opt/actions-runner/run.sh
            chmod 755 /opt/actions-runner/run.sh
            exec /bin/busybox sh '{AgentPath}'
            """;

        GuestRunResult r = await GuestRun.RunAsync(ns.Name, script, new Dictionary<string, string>
        {
            ["KINDLING_BUSYBOX"] = "/bin/busybox", ["KINDLING_CMDLINE"] = "",
        }, TestContext.Current.CancellationToken);

        AssertAgentError(r, "no user 'runner'");
        Assert.DoesNotContain("ran", r.Output.Split('\n'));
    }

    private static Task<GuestRunResult> RunAgentAsync(string netns) =>
        GuestRun.RunAsync(netns, $"mount -t proc proc /proc; exec /bin/busybox sh '{AgentPath}'", new Dictionary<string, string>
        {
            ["KINDLING_BUSYBOX"] = "/bin/busybox",
            ["KINDLING_CMDLINE"] = "",
        }, TestContext.Current.CancellationToken);

    private static void AssertAgentError(GuestRunResult r, string messagePart)
    {
        Assert.True(r.ExitCode == 125, r.Output);
        string[] lines = [.. r.ControlLines.Where(l => !l.StartsWith("##kindling[job-start", StringComparison.Ordinal))];
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("##kindling[error message=", lines[0]);
        string message = GuestRunResult.FromB64Url(lines[0]["##kindling[error message=".Length..^1]);
        Assert.Contains(messagePart, message);
        Assert.Equal("##kindling[job-end result=failed exit=125]", lines[1]);
        Assert.DoesNotContain("step-start", r.Output);
    }
}
