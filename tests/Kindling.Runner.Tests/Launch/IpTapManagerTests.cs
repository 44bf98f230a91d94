using Kindling.Testing;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Launch;

/// <summary>Runners sharing a machine (a fleet's daemons may) tell their TAPs apart by the alias each TAP carries.</summary>
public sealed class IpTapManagerTests : IDisposable
{
    /// <summary>Two runners' state directories (they exist: a TAP whose owner's directory is gone is anyone's).</summary>
    private readonly string _ownerA = Directory.CreateTempSubdirectory("kindling-tap-owner-a-").FullName;
    private readonly string _ownerB = Directory.CreateTempSubdirectory("kindling-tap-owner-b-").FullName;

    public void Dispose()
    {
        foreach (string d in (string[])[_ownerA, _ownerB])
        {
            if (Directory.Exists(d))
            {
                Directory.Delete(d, recursive: true);
            }
        }
    }

    [RootFact]
    public async Task List_TwoRunnersOnOneMachine_EachSeesOnlyItsOwnTapAsOurs()
    {
        var a = new IpTapManager(owner: _ownerA);
        var b = new IpTapManager(owner: _ownerB);
        var legacy = new IpTapManager();
        long id = 9_000_000_000_000 + Environment.ProcessId;
        GuestNetwork net = GuestNetwork.For(id);
        try
        {
            await a.CreateAsync(net, TestContext.Current.CancellationToken);

            Assert.Equal(IpTapManager.AliasFor(_ownerA), File.ReadAllText($"/sys/class/net/{net.TapName}/ifalias").TrimEnd('\n'));
            TapListing ofA = a.List(), ofB = b.List();
            Assert.Contains(net.TapName, ofA.Ours);
            Assert.DoesNotContain(net.TapName, ofA.Others);
            Assert.DoesNotContain(net.TapName, ofB.Ours);
            Assert.Contains(net.TapName, ofB.Others);
            // a runner without an owner (as before aliases) cannot tell: it sees every job TAP as its own
            Assert.Contains(net.TapName, legacy.List().Ours);
        }
        finally
        {
            await a.DeleteAsync(net.TapName, CancellationToken.None);
        }

        Assert.False(Directory.Exists($"/sys/class/net/{net.TapName}"));
    }

    [RootFact]
    public async Task List_TapWithoutAlias_AnothersWhileItIsBeingMadeAnyonesOnceUp()
    {
        var a = new IpTapManager(owner: _ownerA);
        string tap = GuestNetwork.TapNameFor(9_100_000_000_000 + Environment.ProcessId);
        try
        {
            await Ip("tuntap", "add", "dev", tap, "mode", "tap"); // as another runner's CreateAsync, before its alias

            Assert.DoesNotContain(tap, a.List().Ours);
            Assert.Contains(tap, a.List().Others);

            await Ip("link", "set", tap, "up"); // as a runner from before aliases left it

            Assert.Contains(tap, a.List().Ours);
            Assert.DoesNotContain(tap, a.List().Others);
        }
        finally
        {
            await a.DeleteAsync(tap, CancellationToken.None);
        }
    }

    [RootFact]
    public async Task List_TapOfARunnerWhoseStateDirectoryIsGone_AnyonesToReap()
    {
        var a = new IpTapManager(owner: _ownerA);
        var gone = new IpTapManager(owner: _ownerB);
        GuestNetwork net = GuestNetwork.For(9_200_000_000_000 + Environment.ProcessId);
        try
        {
            await gone.CreateAsync(net, TestContext.Current.CancellationToken);
            Assert.Contains(net.TapName, a.List().Others); // its runner's state directory is there

            Directory.Delete(_ownerB, recursive: true); // the runner removed (or a test's temporary one ended)

            TapListing seen = a.List();
            Assert.Contains(net.TapName, seen.Ours);
            Assert.DoesNotContain(net.TapName, seen.Others);
        }
        finally
        {
            await a.DeleteAsync(net.TapName, CancellationToken.None);
        }
    }

    [RootFact]
    public async Task List_TapWithAHashedAliasOfAMissingDirectory_StaysItsOwners()
    {
        var a = new IpTapManager(owner: _ownerA);
        var far = new IpTapManager(owner: "/" + new string('d', 300)); // too long to name: its alias is a hash
        GuestNetwork net = GuestNetwork.For(9_300_000_000_000 + Environment.ProcessId);
        try
        {
            await far.CreateAsync(net, TestContext.Current.CancellationToken);

            TapListing seen = a.List(); // a hash names no directory to look for: the TAP is left to its owner
            Assert.Contains(net.TapName, seen.Others);
            Assert.DoesNotContain(net.TapName, seen.Ours);
            Assert.Contains(net.TapName, far.List().Ours);
        }
        finally
        {
            await a.DeleteAsync(net.TapName, CancellationToken.None);
        }
    }

    private static async Task Ip(params string[] args)
    {
        Kindling.Native.ProcessResult r = await Kindling.Native.ProcessRunner.RunAsync("ip", args, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(r.ExitCode == 0, r.StandardError);
    }

    [Fact]
    public void AliasFor_LongStateDirectory_HashedToFitAnInterfaceAlias()
    {
        string alias = IpTapManager.AliasFor("/" + new string('d', 300));

        Assert.StartsWith("kindling:", alias, StringComparison.Ordinal);
        Assert.True(alias.Length < 64, alias);
        Assert.Equal("kindling:/var/lib/kindling", IpTapManager.AliasFor("/var/lib/kindling"));
    }
}
