using Kindling.Images.ActionsRunner;
using Kindling.Images.Tests.ActionsRunner;
using Spectre.Console;

namespace Kindling.Images.Tests;

public sealed class ImageCommandsFetchRunnerTests
{
    private static (IAnsiConsole Console, StringWriter Output) Console() => PlainConsole.Create(width: 250);

    [Fact]
    public async Task FetchRunner_RightHash_ExitZeroAndTableWithPathAndHash()
    {
        byte[] tarball = TestRunnerTarball.Build();

        (int code, string output) = await FetchRunnerAsync(tarball, TestRunnerTarball.Sha256(tarball));

        Assert.Equal(0, code);
        Assert.Contains("actions/runner 2.999.0", output);
        Assert.Contains(TestRunnerTarball.Sha256(tarball), output);
    }

    [Fact]
    public async Task FetchRunner_WrongHash_ExitOneWithTheMessage()
    {
        (int code, string output) = await FetchRunnerAsync(TestRunnerTarball.Build(), new string('d', 64));

        Assert.Equal(1, code);
        Assert.Contains("error:", output);
        Assert.Contains("SHA-256 mismatch", output);
    }

    /// <summary><c>kindling images fetch-runner</c> for release 2.999.0 with <paramref name="sha256"/>, served <paramref name="tarball"/> over HTTP.</summary>
    private static async Task<(int Code, string Output)> FetchRunnerAsync(byte[] tarball, string sha256)
    {
        await using RunnerTarballServer server = new(tarball);
        using TempCache cache = new();
        using HttpClient http = new();
        (IAnsiConsole console, StringWriter output) = Console();

        int code = await new ImageCommands(new ImageStore(new ImageStoreOptions { CacheDirectory = cache.Path }))
            .FetchRunnerAsync(new ActionsRunnerSource("2.999.0", sha256, Url: server.UrlPattern), http, console, TestContext.Current.CancellationToken);
        return (code, output.ToString());
    }
}
