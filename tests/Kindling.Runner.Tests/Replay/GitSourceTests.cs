using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

public sealed class GitSourceTests
{
    [Theory]
    [InlineData("https://github.com/octo-org/app.git", "octo-org/app")]
    [InlineData("https://github.com/octo-org/app", "octo-org/app")]
    [InlineData("git@github.com:octo-org/app.git", "octo-org/app")]
    [InlineData("ssh://git@ghe.example.com/team/svc.git/", "team/svc")]
    [InlineData("", null)]
    [InlineData("not a url", null)]
    public void RepositoryFromRemote_CommonForms_OwnerName(string url, string? expected) =>
        Assert.Equal(expected, GitSource.RepositoryFromRemote(url));

    [Fact]
    public async Task Probe_PlainDirectory_NotGitLocalName()
    {
        string dir = Directory.CreateTempSubdirectory("kindling-plain-").FullName;
        try
        {
            SourceInfo s = await GitSource.ProbeAsync(dir, TestContext.Current.CancellationToken);
            Assert.False(s.IsGit);
            Assert.Equal("local/" + Path.GetFileName(dir), s.Repository);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
