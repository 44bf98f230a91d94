using System.Diagnostics;

namespace Kindling.Runner.Tests.Cli;

/// <summary><c>kindling daemon</c> as an operator starts it: a bad configuration is refused whole, before anything starts.</summary>
public sealed class DaemonCommandTests : IDisposable
{
    /// <summary>Generous: the process only starts the runtime and reads a file, but CI machines are shared.</summary>
    private static readonly TimeSpan ExitWait = TimeSpan.FromMinutes(2);

    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-daemon-cfg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Daemon_BadConfig_ExitsTwoListingEveryProblem()
    {
        string unset = "KINDLING_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        string config = Write("bad.json", $$"""
            {
              "Loging": { "LogLevel": { "Default": "Warning" } },
              "Kindling": {
                "StateDirectory": "{{_dir}}/state",
                "Host": { "Vcpu": 3, "MemoryMib": "lots" },
                "Pools": [ { "Name": "p", "Labels": [ "kindling" ], "Vcpus": 1, "MemoryMib": 256 } ],
                "Tenants": [ { "Name": "acme", "Forge": { "Kind": "github", "Repositories": [ "acme/app" ] },
                               "Credentials": { "TokenEnv": "{{unset}}" } } ],
                "Web": { "Url": "http://127.0.0.1:0" }
              }
            }
            """);

        (int code, string stderr) = await RunAsync(config, ("KINDLING__Host__MaxVm", "3"));

        Assert.Equal(2, code);
        Assert.Contains($"kindling daemon: invalid configuration ({config}):", stderr);
        Assert.Contains($"  Loging: unknown section in {config}; did you mean Logging?", stderr);
        Assert.Contains("  Kindling:Host:Vcpu: unknown key; did you mean Kindling:Host:Vcpus?", stderr);
        Assert.Contains("  Kindling:Host:MemoryMib: 'lots' is not a whole number", stderr);
        Assert.Contains("  Kindling:Host:MaxVm: unknown key (set by the environment variable KINDLING__Host__MaxVm)", stderr);
        Assert.Contains($"  Kindling:Tenants:0:Credentials:TokenEnv: environment variable {unset} is not set", stderr);
        // A GitHub tenant boots the github image, which needs a pinned actions runner release this file does not give.
        Assert.Contains("  Kindling:Images:ActionsRunner:Version: GitHub jobs run the actions runner from the github image", stderr);
        Assert.Equal(6, stderr.Split('\n').Count(l => l.StartsWith("  ", StringComparison.Ordinal))); // those, and nothing the host adds itself
        AssertNoStackTrace(stderr);
    }

    [Theory]
    [InlineData("{ \"Kindling\": { \"Host\": { ", "cannot read the configuration")]
    [InlineData("{ \"Kindling\": { \"JobTimeout\": \"01:00:00\", \"JobTimeout\": \"02:00:00\" } }", "cannot read the configuration")]
    public async Task Daemon_ConfigNotJson_ExitsTwoWithoutStackTrace(string text, string expected)
    {
        string config = Write("broken.json", text);
        (int code, string stderr) = await RunAsync(config);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.Contains(config, stderr);
        AssertNoStackTrace(stderr);
    }

    [Fact]
    public async Task Daemon_JobDatabaseOfANewerKindling_ExitsTwoWithoutStackTraceAndLeavesItAlone()
    {
        string state = Path.Combine(_dir, "state");
        Directory.CreateDirectory(state);
        string db = Path.Combine(state, "kindling.db");
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False"))
        {
            c.Open();
            using Microsoft.Data.Sqlite.SqliteCommand cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (999);";
            cmd.ExecuteNonQuery();
        }

        byte[] before = File.ReadAllBytes(db);
        string config = Write("newer.json", $$"""
            {
              "Kindling": {
                "StateDirectory": "{{state}}",
                "Pools": [ { "Name": "p", "Labels": [ "kindling" ], "Vcpus": 1, "MemoryMib": 256 } ],
                "Tenants": [ { "Name": "acme", "Forge": { "Kind": "github", "Repositories": [ "acme/app" ] },
                               "Credentials": { "Token": "t" } } ],
                "Forge": { "GitHub": { "BaseUrl": "http://127.0.0.1:9/" } },
                "Launcher": { "Kind": "stub", "Network": false, "Jail": { "Enabled": false } },
                "Web": { "Url": "http://127.0.0.1:0" }
              }
            }
            """);

        (int code, string stderr) = await RunAsync(config);

        Assert.Equal(2, code);
        Assert.Contains($"kindling daemon: the job database {db} has schema version 999, newer than this kindling knows", stderr);
        AssertNoStackTrace(stderr);
        Assert.Equal(before, File.ReadAllBytes(db));
    }

    private static void AssertNoStackTrace(string stderr)
    {
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(int Code, string Stderr)> RunAsync(string config, params (string Name, string Value)[] env)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "kindling"), ["daemon", "--config", config])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach ((string name, string value) in env)
        {
            psi.Environment[name] = value;
        }

        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        wait.CancelAfter(ExitWait);
        try
        {
            await p.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"kindling daemon did not exit within {ExitWait}; it should refuse the configuration at once");
        }

        return (p.ExitCode, await stderr + await stdout);
    }
}
