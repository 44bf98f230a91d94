using Kindling.Testing;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Launch;

/// <summary>Runners sharing a machine (a fleet's daemons may) tell their TAPs apart by the alias each TAP carries.</summary>
public sealed class IpTapManagerTests
{
    [RootFact]
    public async Task ListOursAndOthers_TwoRunnersOnOneMachine_EachSeesOnlyItsOwnTapAsOurs()
    {
        var a = new IpTapManager(owner: "/tmp/kindling-tap-owner-a");
        var b = new IpTapManager(owner: "/tmp/kindling-tap-owner-b");
        var legacy = new IpTapManager();
        long id = 9_000_000_000_000 + Environment.ProcessId;
        GuestNetwork net = GuestNetwork.For(id);
        try
        {
            await a.CreateAsync(net, TestContext.Current.CancellationToken);

            Assert.Equal(IpTapManager.AliasFor("/tmp/kindling-tap-owner-a"), File.ReadAllText($"/sys/class/net/{net.TapName}/ifalias").TrimEnd('\n'));
            Assert.Contains(net.TapName, a.ListOurs());
            Assert.DoesNotContain(net.TapName, a.ListOthers());
            Assert.DoesNotContain(net.TapName, b.ListOurs());
            Assert.Contains(net.TapName, b.ListOthers());
            // a runner without an owner (as before aliases) cannot tell: it sees every job TAP as its own
            Assert.Contains(net.TapName, legacy.ListOurs());
        }
        finally
        {
            await a.DeleteAsync(net.TapName, CancellationToken.None);
        }

        Assert.False(Directory.Exists($"/sys/class/net/{net.TapName}"));
    }

    [RootFact]
    public async Task ListOurs_TapWithoutAlias_AnothersWhileItIsBeingMadeAnyonesOnceUp()
    {
        var a = new IpTapManager(owner: "/tmp/kindling-tap-owner-a");
        string tap = GuestNetwork.TapNameFor(9_100_000_000_000 + Environment.ProcessId);
        try
        {
            await Ip("tuntap", "add", "dev", tap, "mode", "tap"); // as another runner's CreateAsync, before its alias

            Assert.DoesNotContain(tap, a.ListOurs());
            Assert.Contains(tap, a.ListOthers());

            await Ip("link", "set", tap, "up"); // as a runner from before aliases left it

            Assert.Contains(tap, a.ListOurs());
            Assert.DoesNotContain(tap, a.ListOthers());
        }
        finally
        {
            await a.DeleteAsync(tap, CancellationToken.None);
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
