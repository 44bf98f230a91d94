using Kindling.Images.ActionsRunner;

namespace Kindling.Images.Tests.ActionsRunner;

public sealed class ActionsRunnerSourceTests
{
    private static readonly string Hash = new('0', 64);

    [Fact]
    public void DownloadUri_NoUrl_GitHubReleaseForLinuxX64()
    {
        Assert.Equal(new Uri("https://github.com/actions/runner/releases/download/v2.321.0/actions-runner-linux-x64-2.321.0.tar.gz"),
            new ActionsRunnerSource("2.321.0", Hash).DownloadUri);
    }

    [Fact]
    public void DownloadUri_UrlPattern_VersionSubstituted()
    {
        Assert.Equal(new Uri("https://mirror.example/runner/2.321.0.tgz"),
            new ActionsRunnerSource("2.321.0", Hash, Url: "https://mirror.example/runner/{Version}.tgz").DownloadUri);
    }

    [Fact]
    public void Problems_Complete_None()
    {
        Assert.Empty(new ActionsRunnerSource("2.321.0", "sha256:" + Hash.ToUpperInvariant()).Problems());
    }

    [Theory]
    [InlineData("", "", "Kindling:Images:ActionsRunner:Version: is empty")]
    [InlineData("v2.321.0", "", "Kindling:Images:ActionsRunner:Version: 'v2.321.0' is not a release version")]
    [InlineData("2.321.0", "", "Kindling:Images:ActionsRunner:Sha256: is empty")]
    [InlineData("2.321.0", "abc", "Kindling:Images:ActionsRunner:Sha256: 'abc' is not a SHA-256")]
    public void Problems_BadVersionOrHash_NamesTheKey(string version, string sha, string expected)
    {
        Assert.Contains(new ActionsRunnerSource(version, sha).Problems(), p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Problems_UrlAndFile_SetOnlyOne()
    {
        Assert.Contains(new ActionsRunnerSource("2.321.0", Hash, Url: "https://x/{Version}", File: "/etc/hostname").Problems(),
            p => p.Contains("both Url and File are set", StringComparison.Ordinal));
    }

    [Fact]
    public void Problems_MissingFile_NamesFileKey()
    {
        Assert.Contains(new ActionsRunnerSource("2.321.0", Hash, File: "/nonexistent/runner.tar.gz").Problems(),
            p => p.StartsWith("Kindling:Images:ActionsRunner:File: '/nonexistent/runner.tar.gz' does not exist", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ftp://mirror/{Version}.tgz")]
    [InlineData("not a url")]
    public void Problems_BadUrl_NamesUrlKey(string url)
    {
        Assert.Contains(new ActionsRunnerSource("2.321.0", Hash, Url: url).Problems(),
            p => p.StartsWith("Kindling:Images:ActionsRunner:Url:", StringComparison.Ordinal));
    }
}
