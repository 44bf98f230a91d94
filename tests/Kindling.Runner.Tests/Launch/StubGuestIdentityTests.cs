using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Launch;

/// <summary>The stub guest's job user and hostname resolve as the agent's do, and are refused where the stub cannot apply them.</summary>
public sealed class StubGuestIdentityTests : IDisposable
{
    private readonly string _etc = Directory.CreateTempSubdirectory("kindling-stub-etc-").FullName;

    public StubGuestIdentityTests()
    {
        File.WriteAllText(Path.Combine(_etc, "passwd"), "root:x:0:0:root:/root:/bin/sh\nrunner:x:1001:1002:runner:/home/runner:/bin/sh\n");
        File.WriteAllText(Path.Combine(_etc, "group"), "root:x:0:\nrunner:x:1002:\ndocker:x:999:runner\n");
    }

    public void Dispose() => Directory.Delete(_etc, recursive: true);

    [Theory]
    [InlineData("runner", "--reuid=1001 --regid=1002 --init-groups", "/home/runner")]
    [InlineData("1001", "--reuid=1001 --regid=1002 --init-groups", "/home/runner")]
    [InlineData("100:101", "--reuid=100 --regid=101 --clear-groups", "/")]
    [InlineData("4321", "--reuid=4321 --regid=0 --clear-groups", "/")]
    [InlineData("runner:docker", "--reuid=1001 --regid=999 --clear-groups", "/home/runner")]
    public void For_User_SetprivWithDockersIdsAndHome(string user, string ids, string home)
    {
        (StubGuestIdentity id, string? error) = StubGuestIdentity.For(user, null, root: true, _etc);

        Assert.Null(error);
        Assert.Equal("setpriv " + ids + " --", string.Join(' ', id.Prefix));
        Assert.Equal(home, id.Home);
    }

    [Theory]
    [InlineData("nobody-here", "unable to find user nobody-here: no matching entries in passwd file")]
    [InlineData("runner:nogroup-here", "unable to find group nogroup-here: no matching entries in group file")]
    public void For_NameMissingFromTheFiles_DockersError(string user, string message) =>
        Assert.Equal(message, StubGuestIdentity.For(user, null, root: true, _etc).Error);

    [Fact]
    public void For_Hostname_StepsInAUtsNamespaceOfTheirOwn()
    {
        (StubGuestIdentity id, string? error) = StubGuestIdentity.For(null, "box.example", root: true, _etc);

        Assert.Null(error);
        Assert.Equal(["unshare", "--uts"], id.Prefix.Take(2));
        Assert.Equal("box.example", id.Prefix[^1]);
        Assert.Null(id.Owner);
    }

    [Fact]
    public void For_NotRoot_RefusedInsteadOfRunningAsTheWrongUser()
    {
        Assert.Contains("cannot run them as user 'runner'", StubGuestIdentity.For("runner", null, root: false, _etc).Error, StringComparison.Ordinal);
        Assert.Contains("cannot set the hostname 'h'", StubGuestIdentity.For(null, "h", root: false, _etc).Error, StringComparison.Ordinal);
        Assert.Equal((StubGuestIdentity.None, (string?)null), StubGuestIdentity.For(null, null, root: false, _etc));
    }
}
