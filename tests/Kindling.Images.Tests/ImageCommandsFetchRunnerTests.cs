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
        await using RunnerTarballServer server = new(tarball);
        using TempCache cache = new();
        using HttpClient http = new();
        (IAnsiConsole console, StringWriter output) = Console();

        int code = await new ImageCommands(new ImageStore(new ImageStoreOptions { CacheDirectory = cache.Path }))
            .FetchRunnerAsync(new ActionsRunnerSource("2.999.0", TestRunnerTarball.Sha256(tarball), Url: server.UrlPattern), http, console, TestContext.Current.CancellationToken);

        Assert.Equal(0, code);
        Assert.Contains("actions/runner 2.999.0", output.ToString());
        Assert.Contains(TestRunnerTarball.Sha256(tarball), output.ToString());
    }

    [Fact]
    public async Task FetchRunner_WrongHash_ExitOneWithTheMessage()
    {
        byte[] tarball = TestRunnerTarball.Build();
        await using RunnerTarballServer server = new(tarball);
        using TempCache cache = new();
        using HttpClient http = new();
        (IAnsiConsole console, StringWriter output) = Console();

        int code = await new ImageCommands(new ImageStore(new ImageStoreOptions { CacheDirectory = cache.Path }))
            .FetchRunnerAsync(new ActionsRunnerSource("2.999.0", new string('d', 64), Url: server.UrlPattern), http, console, TestContext.Current.CancellationToken);

        Assert.Equal(1, code);
        Assert.Contains("error:", output.ToString());
        Assert.Contains("SHA-256 mismatch", output.ToString());
    }
}
