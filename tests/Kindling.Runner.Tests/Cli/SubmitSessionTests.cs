using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Kindling.Runner.Cli;
using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Tests.Web;
using Microsoft.Extensions.Configuration;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>kindling submit</c> through its command line against a daemon's web host on a loopback port (stub launcher):
/// the workflow job is resolved by replay's planner, sent with POST /api/jobs, and followed with --wait.
/// </summary>
public sealed class SubmitSessionTests : IAsyncLifetime
{
    private const string TokenVariable = "TEST_KINDLING_SUBMIT_TOKEN";

    private const string Workflow = """
        name: ci
        on: push
        jobs:
          build:
            runs-on: [self-hosted, kindling]
            strategy:
              matrix:
                flavour: [plain, fancy]
            env:
              FLAVOUR: ${{ matrix.flavour }}
            steps:
              - name: Greet
                run: echo "building $FLAVOUR for ${{ github.event_name }}"
              - name: Exit as asked
                run: exit ${{ vars.CODE || 0 }}
          other:
            runs-on: ubuntu-latest
            steps:
              - run: echo other-ran
        """;

    private readonly KindlingWebFactory _web = new();
    private readonly string _repo = Directory.CreateTempSubdirectory("kindling-submit-test-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();
    private Uri _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        File.WriteAllText(Path.Combine(_repo, "ci.yml"), Workflow);
        _server = _web.StartKestrel();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _web.DisposeAsync();
        Directory.Delete(_repo, recursive: true);
    }

    private ReplayConsole Console(string? token) => new()
    {
        Out = _out, Error = _err, CurrentDirectory = _repo,
        Environment = name => name == TokenVariable ? token : null,
    };

    private async Task<int> Submit(string? token, params string[] args) =>
        await SubmitCommand.Build(Console(token)).Parse(["ci.yml", "--config", WriteConfig(), .. args]).InvokeAsync(cancellationToken: Ct);

    /// <summary>A config naming the test daemon's address and a state directory without a generated token.</summary>
    private string WriteConfig()
    {
        string path = Path.Combine(_repo, "kindling.json");
        File.WriteAllText(path, $$$"""{"Kindling": {"StateDirectory": "{{{Path.Combine(_repo, "state")}}}", "Web": {"Url": "{{{_server.ToString().TrimEnd('/')}}}"} } }""");
        return path;
    }

    [Fact]
    public async Task Submit_WaitJobSucceeds_StreamsLogAndExitsZero()
    {
        int exit = await Submit(KindlingWebFactory.AcmeSubmitToken, "-j", "build", "--matrix", "flavour:fancy", "--token", TokenVariable, "--wait");
        string output = _out.ToString();
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{_err}");
        Assert.Contains("building fancy for push", output, StringComparison.Ordinal);
        Assert.DoesNotContain("building plain", output, StringComparison.Ordinal);
        JobRecord job = Assert.Single(_web.Store.List(limit: 10));
        Assert.Equal("submitted", job.Forge);
        Assert.Equal("acme", job.Tenant);
        Assert.Contains($"submitted job {job.Id}", output, StringComparison.Ordinal);
        Assert.Contains($"job {job.Id} succeeded (exit 0)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_WaitJobFails_ExitCodeIsTheFailingStepsAndEveryMatrixJobIsSent()
    {
        int exit = await Submit(KindlingWebFactory.AcmeSubmitToken, "-j", "build", "--var", "CODE=3", "--token", TokenVariable, "--wait");
        Assert.True(exit == 3, $"exit {exit}\n{_out}\n{_err}");
        IReadOnlyList<JobRecord> jobs = _web.Store.List(limit: 10);
        Assert.Equal(2, jobs.Count);
        Assert.All(jobs, j => Assert.Equal(JobState.Failed, _web.Store.GetWithResult(j.Id)!.Result));
    }

    [Fact]
    public async Task Submit_WithoutWait_PrintsTheJobAndReturnsAtOnce()
    {
        int exit = await Submit(KindlingWebFactory.AdminToken, "-j", "build", "--matrix", "flavour:plain", "--tenant", "initech", "--token", TokenVariable);
        Assert.Equal(0, exit);
        JobRecord job = Assert.Single(_web.Store.List(limit: 10));
        Assert.Equal("initech", job.Tenant);
        Assert.Contains($"{_server}jobs/{job.Id}", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_UnreachableDaemon_SaysTheUrlAndHowToStartIt()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop(); // nothing listens there now

        int exit = await Submit(KindlingWebFactory.AdminToken, "-j", "build", "--tenant", "acme", "--token", TokenVariable, "--server", $"http://127.0.0.1:{port}");
        Assert.Equal(ReplaySession.ExitUsage, exit);
        string err = _err.ToString();
        Assert.Contains($"cannot reach the daemon at http://127.0.0.1:{port}/", err, StringComparison.Ordinal);
        Assert.Contains("kindling daemon", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_WrongToken_Says401AndHowToPassOne()
    {
        int exit = await Submit("wrong-token-0123456789abcdef", "-j", "build", "--token", TokenVariable);
        Assert.Equal(ReplaySession.ExitUsage, exit);
        Assert.Contains("did not accept the token (401)", _err.ToString(), StringComparison.Ordinal);
        Assert.Empty(_web.Store.List(limit: 10));
    }

    [Fact]
    public async Task Submit_OtherTenantsToken_Says403WithTheDaemonsReason()
    {
        int exit = await Submit(KindlingWebFactory.InitechSubmitToken, "-j", "build", "--tenant", "acme", "--token", TokenVariable);
        Assert.Equal(ReplaySession.ExitUsage, exit);
        Assert.Contains("(403): tenant: this token submits for tenant initech only", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_RunsOnNoPoolServes_SaysTheFieldAndRunsOnOverrides()
    {
        Assert.Equal(ReplaySession.ExitUsage, await Submit(KindlingWebFactory.AcmeSubmitToken, "-j", "other", "--token", TokenVariable));
        Assert.Contains("(422): runs_on: no pool serves [ubuntu-latest]", _err.ToString(), StringComparison.Ordinal);

        Assert.Equal(0, await Submit(KindlingWebFactory.AcmeSubmitToken, "-j", "other", "--runs-on", "kindling", "--token", TokenVariable, "--wait"));
        Assert.Contains("other-ran", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_TokenNeitherVariableNorFile_SaysSo()
    {
        int exit = await Submit(null, "-j", "build", "--token", "NO_SUCH_TOKEN_SOURCE");
        Assert.Equal(ReplaySession.ExitUsage, exit);
        Assert.Contains("--token NO_SUCH_TOKEN_SOURCE: there is no environment variable", _err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_TokenFromFile_IsSent()
    {
        File.WriteAllText(Path.Combine(_repo, "token"), KindlingWebFactory.AcmeSubmitToken + "\n");
        Assert.Equal(0, await Submit(null, "-j", "build", "--matrix", "flavour:plain", "--token", "token"));
        Assert.Equal("acme", Assert.Single(_web.Store.List(limit: 10)).Tenant);
    }

    [Theory]
    [InlineData("http://0.0.0.0:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://*:9000;https://*:9443", "http://127.0.0.1:9000/")]
    [InlineData("http://[::]:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://kindling.internal:8080/", "http://kindling.internal:8080/")]
    public void Server_FromConfigUrl_ReachableAddress(string configured, string expected)
    {
        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create<string, string?>("Kindling:Web:Url", configured)]).Build();
        Assert.Equal(expected, SubmitSession.Server(null, config).ToString());
    }

    [Fact]
    public void Server_PortZero_Refused()
    {
        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create<string, string?>("Kindling:Web:Url", "http://127.0.0.1:0")]).Build();
        Assert.Contains("port 0", Assert.Throws<ReplayException>(() => SubmitSession.Server(null, config)).Message, StringComparison.Ordinal);
    }
}
