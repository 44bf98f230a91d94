using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>
/// A job's <c>container:</c> planned as act's platform mapping treats an image: the steps run in a Kindling image's
/// microVM, with what GitHub does for a container job whatever the image holds (env, default shell, options,
/// credentials), and the rest named as ignored.
/// </summary>
public sealed class ContainerJobTests
{
    private static ReplayInputs Inputs(string image = ReplayDefaults.DebianImage, params (string Name, string Value)[] secrets) =>
        ReplayCorpus.Inputs(secrets) with { Image = image };

    private static ReplayJobPlan Plan(string container, string steps = "      - run: echo hi\n", string jobExtra = "", ReplayInputs? inputs = null) =>
        Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse(
            "on: push\nenv: {FROM_WORKFLOW: wf}\njobs:\n  j:\n    runs-on: ubuntu-latest\n" + jobExtra + "    container:\n" + container + "    steps:\n" + steps, "w.yml"),
            "j", inputs ?? Inputs()));

    [Fact]
    public void Plan_ContainerEnv_JoinsTheJobEnvBelowWorkflowJobAndStepEnv()
    {
        ReplayJobPlan p = Plan(
            "      image: node:20\n      env: {ONLY_CONTAINER: c, FROM_WORKFLOW: c, FROM_JOB: c, FROM_STEP: c}\n",
            "      - run: echo hi\n        env: {FROM_STEP: s}\n", "    env: {FROM_JOB: j}\n");

        Assert.Equal("c", p.Spec.Env["ONLY_CONTAINER"]);
        Assert.Equal("wf", p.Spec.Env["FROM_WORKFLOW"]);
        Assert.Equal("j", p.Spec.Env["FROM_JOB"]);
        Assert.Equal("s", p.Spec.Steps[0].Env["FROM_STEP"]); // the agent exports a step's env after the job's
    }

    [Fact]
    public void Plan_ContainerJob_DefaultShellShButDefaultsRunShellAndStepShellWin()
    {
        ReplayJobPlan p = Plan("      image: node:20\n", "      - run: echo default\n      - run: echo step\n        shell: bash\n");
        ReplayJobPlan withDefaults = Plan("      image: node:20\n", jobExtra: "    defaults: {run: {shell: bash}}\n");
        ReplayJobPlan onTheRunner = Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo\n", "w.yml"), "j", Inputs()));

        Assert.Equal([ShellNames.Sh, ShellNames.Bash], p.Spec.Steps.Select(s => s.Shell));
        Assert.Equal(ShellNames.Bash, withDefaults.Spec.Steps[0].Shell);
        Assert.Equal(ShellNames.Bash, onTheRunner.Spec.Steps[0].Shell); // the debian image on the runner: bash
        Assert.Contains("shell: sh where a step sets none (GitHub's default in a container job)", DryRunPrinter.Print([p]), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_ContainerJob_NoteSaysTheImageIsNotPulledAndNothingIsNotSupported()
    {
        ReplayJobPlan p = Plan("      image: node:20\n");

        Assert.Equal("container: node:20 is not pulled: the job runs in a microVM of the Kindling debian image in its place, hostname " + p.Spec.Hostname +
                     " (--container-image node:20=FLAVOUR picks the image)", Assert.Single(p.Warnings));
        Assert.DoesNotContain("not supported", DryRunPrinter.Print([p]), StringComparison.OrdinalIgnoreCase);
        Assert.Null(p.Spec.User);
        Assert.Matches("^[0-9a-f]{12}$", p.Spec.Hostname);
        Assert.Null(p.SetupError);
    }

    [Fact]
    public void Plan_ContainerImageMapped_JobRunsInThatFlavour()
    {
        ReplayJobPlan p = Plan("      image: alpine:3\n", inputs: Inputs(ReplayDefaults.DebianImage) with { ContainerImages = [new("alpine:3", ReplayDefaults.MinimalImage)] });
        ReplayJobPlan other = Plan("      image: node:20\n", inputs: Inputs(ReplayDefaults.DebianImage) with { ContainerImages = [new("alpine:3", ReplayDefaults.MinimalImage)] });

        Assert.Equal(ReplayDefaults.MinimalImage, p.Container!.Flavour);
        Assert.Equal(ReplayDefaults.MinimalImage, p.Spec.Origin!.Image);
        Assert.Equal(ReplayDefaults.DebianImage, other.Spec.Origin!.Image);
    }

    [Fact]
    public void Plan_EmptyImage_NoContainerAsOnGitHub()
    {
        ReplayJobPlan p = Plan("      image: ${{ matrix.none }}\n");

        Assert.Null(p.Container);
        Assert.Null(p.Spec.Hostname);
        Assert.Empty(p.Warnings);
        Assert.Equal(ShellNames.Bash, p.Spec.Steps[0].Shell);
    }

    [Theory]
    [InlineData("--user 100:101 --hostname my.host.local", "100:101", "my.host.local")]
    [InlineData("--user=runner --hostname=h1", "runner", "h1")]
    [InlineData("-u 0 -h 'box'", "0", "box")]
    public void Plan_UserAndHostnameOptions_InTheJobSpec(string options, string user, string hostname)
    {
        ReplayJobPlan p = Plan($"      image: node:20\n      options: \"{options}\"\n");

        Assert.Equal(user, p.Spec.User);
        Assert.Equal(hostname, p.Spec.Hostname);
        Assert.Contains($"steps as user {user}, hostname {hostname}", p.Warnings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_EnvOption_AboveContainerEnv()
    {
        ReplayJobPlan p = Plan("      image: node:20\n      env: {A: from-env, B: b}\n      options: -e A=from-options --env C=c\n");

        Assert.Equal(("from-options", "b", "c"), (p.Spec.Env["A"], p.Spec.Env["B"], p.Spec.Env["C"]));
    }

    [Fact]
    public void Plan_OtherOptionsPortsAndVolumes_IgnoredWithWarningsNamingThem()
    {
        ReplayJobPlan p = Plan("      image: node:20\n      options: --cpus 2 --privileged -v /a:/b\n      ports: [80, 443]\n      volumes: [/data:/data]\n");

        Assert.Contains("container.options: --cpus, --privileged, -v are ignored", p.Warnings[1], StringComparison.Ordinal);
        Assert.StartsWith("container.ports: 80, 443 are ignored", p.Warnings[2], StringComparison.Ordinal);
        Assert.StartsWith("container.volumes: /data:/data is ignored", p.Warnings[3], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--user 'a b'", "--user 'a b' is not NAME, UID, NAME:GROUP or UID:GID")]
    [InlineData("--hostname -bad-", "--hostname '-bad-' is not a host name")]
    [InlineData("--user", "--user needs a value")]
    [InlineData("--hostname 'open", "a ' quote is not closed")]
    public void Plan_BadOptions_ErrorNamingTheField(string options, string message)
    {
        var e = Assert.Throws<ReplayException>(() => Plan($"      image: node:20\n      options: \"{options.Replace("\"", "\\\"", StringComparison.Ordinal)}\"\n"));

        Assert.Contains("container.options: " + message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{username: user, password: ''}", "container.credentials.password is empty")]
    [InlineData("{username: '', password: pw}", "container.credentials.username is empty")]
    [InlineData("{username: user}", "container.credentials.password is missing")]
    [InlineData("{username: user, password: '${{ secrets.MISSING }}'}", "container.credentials.password is empty")]
    public void Plan_IncompleteCredentials_JobFailsAtSetUp(string credentials, string why)
    {
        ReplayJobPlan p = Plan($"      image: node:20\n      credentials: {credentials}\n");

        Assert.Equal($"failed to handle credentials: {why} (pulling node:20 needs both username and password)", p.SetupError);
        Assert.Contains("fails: the job fails at set-up, before its first step: failed to handle credentials", DryRunPrinter.Print([p]), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_CredentialsFromASecret_Accepted()
    {
        ReplayJobPlan p = Plan("      image: node:20\n      credentials: {username: user, password: '${{ secrets.REGISTRY }}'}\n",
            inputs: Inputs(ReplayDefaults.DebianImage, ("REGISTRY", "pw")));

        Assert.Null(p.SetupError);
        Assert.DoesNotContain("pw", DryRunPrinter.Print([p]), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_Services_StillNotSupported()
    {
        ReplayJobPlan p = Plan("      image: node:20\n", jobExtra: "    services: {db: {image: postgres}}\n");

        Assert.Contains(p.Warnings, w => w.StartsWith("services: db are not started (not supported yet)", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_UnknownContainerKey_ErrorNamingIt()
    {
        var e = Assert.Throws<WorkflowException>(() => Plan("      image: node:20\n      entrypoint: sh\n"));

        Assert.Contains("unknown key 'entrypoint' in jobs.j.container", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MmdsTree_UserAndHostname_InTheJobDocument()
    {
        var spec = new JobSpec { Name = "j", User = "100:101", Hostname = "h" };

        var job = MmdsTree.Build(1, "j", TimeSpan.FromMinutes(1), spec, new Dictionary<string, string>(), null, null)["kindling"]!["job"]!;

        Assert.Equal(("100:101", "h"), (job["user"]!.GetValue<string>(), job["hostname"]!.GetValue<string>()));
    }
}
