using System.Net;
using Kindling.Runner.Network;

namespace Kindling.Runner.Tests.Network;

/// <summary>
/// The real rules and the real DNS forwarder, in namespaces of their own (<see cref="NetnsLab"/>): a veth per guest stands
/// in for its TAP and NIC, and traffic goes through the kernel as a VM's would. Drops are checked beside a path that
/// works from the same place, so a lab that is broken cannot pass for a wall.
/// </summary>
public sealed class GuestNetworkServiceTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private NetnsLab _lab = null!;
    private GuestNetworkService _service = null!;

    private static readonly Dictionary<string, EgressOptions> Tenants = new()
    {
        ["open"] = new(),
        ["closed"] = new() { Policy = "none" },
        ["listed"] = new() { Allow = ["203.0.113.0/24:80"], Deny = ["203.0.113.11"] },
        ["denied"] = new() { Deny = ["203.0.113.10:8080"] },
    };

    public async ValueTask InitializeAsync()
    {
        Assert.SkipWhen(NetnsLab.UnavailableReason is not null, NetnsLab.UnavailableReason ?? "");
        _lab = await NetnsLab.StartAsync();
        _service = new GuestNetworkService(_lab.Options("8082"), Tenants, _lab.Host);
        await _service.StartAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_service is not null)
        {
            await _service.DisposeAsync();
        }

        if (_lab is not null)
        {
            await _lab.DisposeAsync();
        }
    }

    [Fact]
    public async Task AddVm_InternetServer_ReachedWithTheHostsAddress()
    {
        LabGuest guest = await _lab.AddGuestAsync(101);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);

        string? body = await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20));

        Assert.Equal($"hello from {NetnsLab.HostUplinkAddress}", body); // source NAT: the server sees the host, never 172.16.x.x
    }

    [Fact]
    public async Task AddVm_PrivateMetadataHostAndOtherGuests_Dropped()
    {
        LabGuest guest = await _lab.AddGuestAsync(102);
        LabGuest other = await _lab.AddGuestAsync(103);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);
        await _service.AddVmAsync(other.Net.Link, "open", Ct);
        _lab.Serve(_lab.Host, IPAddress.Any, 8081); // a service of the host's, on every address
        _lab.Serve(other.Stack, IPAddress.Any, 80); // a server in the other guest
        Assert.NotNull(await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20))); // the guest is online

        Task<string?>[] attempts =
        [
            guest.GetAsync(NetnsLab.PrivateServer, 80), // private range
            guest.GetAsync(NetnsLab.Metadata, 80), // the host's cloud metadata service
            guest.GetAsync(IPAddress.Parse(guest.Net.HostAddress), 8081), // the host, on the guest's own gateway
            guest.GetAsync(NetnsLab.HostUplinkAddress, 8081), // the host, on its uplink address
            guest.GetAsync(IPAddress.Parse(other.Net.GuestAddress), 80), // another VM
            guest.GetAsync(IPAddress.Parse(other.Net.HostAddress), 8081), // another VM's gateway
        ];

        Assert.All(await Task.WhenAll(attempts), Assert.Null);
        // Each of them is reachable from the host itself: the lab is sound, the wall is the guest's.
        var fromHost = new LabGuest(_lab.Host.Namespace!, guest.Net);
        Assert.NotNull(await fromHost.GetAsync(NetnsLab.PrivateServer, 80, TimeSpan.FromSeconds(20)));
        Assert.NotNull(await fromHost.GetAsync(NetnsLab.Metadata, 80, TimeSpan.FromSeconds(20)));
        Assert.NotNull(await fromHost.GetAsync(IPAddress.Parse(other.Net.GuestAddress), 80, TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task AddVm_HostPortOnOwnGateway_Reachable()
    {
        LabGuest guest = await _lab.AddGuestAsync(104);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);
        _lab.Serve(_lab.Host, IPAddress.Any, 8082);

        Assert.Equal($"hello from {guest.Net.GuestAddress}", await guest.GetAsync(IPAddress.Parse(guest.Net.HostAddress), 8082, TimeSpan.FromSeconds(20)));
        Assert.Null(await guest.GetAsync(NetnsLab.HostUplinkAddress, 8082)); // only on its own gateway
    }

    [Fact]
    public async Task AddVm_SpoofedSourceAddressOrMac_Dropped()
    {
        LabGuest guest = await _lab.AddGuestAsync(105);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);
        await guest.IpAsync("addr", "add", "172.16.9.9/32", "dev", "eth0");

        Assert.Null(await guest.GetAsync(NetnsLab.WebServer, 80, from: IPAddress.Parse("172.16.9.9")));
        Assert.NotNull(await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20), from: IPAddress.Parse(guest.Net.GuestAddress)));

        await guest.IpAsync("link", "set", "eth0", "address", "06:00:00:00:00:99");
        Assert.Null(await guest.GetAsync(NetnsLab.WebServer, 80));
        Assert.Null(await guest.ResolveAsync("forge.test"));
        await guest.IpAsync("link", "set", "eth0", "address", guest.Net.GuestMac);
        Assert.NotNull(await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task AddVm_NameAtTheGateway_ResolvesOverUdpAndTcp()
    {
        LabGuest guest = await _lab.AddGuestAsync(106);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);

        DnsAnswer? udp = await guest.ResolveAsync("forge.test", wait: TimeSpan.FromSeconds(20));
        DnsAnswer? tcp = await guest.ResolveAsync("FORGE.test", tcp: true, wait: TimeSpan.FromSeconds(20));
        DnsAnswer? missing = await guest.ResolveAsync("nothing.test", wait: TimeSpan.FromSeconds(20));

        Assert.Equal(NetnsLab.WebServer, udp?.Address);
        Assert.Equal(NetnsLab.WebServer, tcp?.Address);
        Assert.Equal(3, missing?.Rcode); // NXDOMAIN passed through
    }

    [Fact]
    public async Task AddVm_PolicyNone_NothingReachableNotEvenDns()
    {
        LabGuest guest = await _lab.AddGuestAsync(107);
        await _service.AddVmAsync(guest.Net.Link, "closed", Ct);

        Assert.Null(await guest.GetAsync(NetnsLab.WebServer, 80));
        Assert.Null(await guest.ResolveAsync("forge.test"));
    }

    [Fact]
    public async Task AddVm_AllowAndDenyLists_OnlyListedDestinations()
    {
        LabGuest listed = await _lab.AddGuestAsync(108);
        LabGuest denied = await _lab.AddGuestAsync(109);
        await _service.AddVmAsync(listed.Net.Link, "listed", Ct);
        await _service.AddVmAsync(denied.Net.Link, "denied", Ct);
        await _lab.Internet.RunCheckedAsync("ip", ["addr", "add", "203.0.113.11/32", "dev", "lo"], ct: Ct);
        _lab.Serve(_lab.Internet, IPAddress.Parse("203.0.113.11"), 80);

        Assert.NotNull(await listed.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20))); // allowed: 203.0.113.0/24:80
        Assert.Null(await listed.GetAsync(NetnsLab.WebServer, 8080)); // another port
        Assert.Null(await listed.GetAsync(IPAddress.Parse("203.0.113.11"), 80)); // denied inside the allowed range
        Assert.NotNull(await listed.ResolveAsync("forge.test", wait: TimeSpan.FromSeconds(20))); // DNS at the gateway stays
        Assert.NotNull(await denied.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20)));
        Assert.Null(await denied.GetAsync(NetnsLab.WebServer, 8080));
    }

    [Fact]
    public async Task RemoveVm_AfterTeardown_NoElementLeftAndTrafficStops()
    {
        LabGuest guest = await _lab.AddGuestAsync(110);
        LabGuest stays = await _lab.AddGuestAsync(111);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);
        await _service.AddVmAsync(stays.Net.Link, "open", Ct);
        Assert.NotNull(await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20)));

        await _service.RemoveVmAsync(guest.Net.TapName, Ct);
        await _service.RemoveVmAsync(guest.Net.TapName, Ct); // again: nothing to do

        string table = await _lab.Host.RunCheckedAsync("nft", ["list", "table", "inet", "kindling"], ct: Ct);
        Assert.DoesNotContain($"\"{guest.Net.TapName}\"", table, StringComparison.Ordinal);
        Assert.DoesNotContain(guest.Net.TapName + "_", table, StringComparison.Ordinal);
        Assert.Contains($"\"{stays.Net.TapName}\"", table, StringComparison.Ordinal);
        Assert.Null(await guest.GetAsync(NetnsLab.WebServer, 80));
        Assert.Null(await guest.ResolveAsync("forge.test"));
        Assert.NotNull(await stays.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task StartAsync_AfterACrash_KeepsOthersElementsAndRemovesTheLeftover()
    {
        LabGuest guest = await _lab.AddGuestAsync(112);
        await _service.AddVmAsync(guest.Net.Link, "open", Ct);
        Assert.NotNull(await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20)));

        // The process dies without teardown; the next one starts over the same table.
        await _service.DisposeAsync();
        _service = new GuestNetworkService(_lab.Options("8082"), Tenants, _lab.Host);
        await _service.StartAsync(Ct);
        Assert.Equal([guest.Net.TapName], await _service.ListTapsAsync(Ct));

        await _service.RemoveVmAsync(guest.Net.TapName, Ct); // what the reaper does for a job that is gone

        Assert.Empty(await _service.ListTapsAsync(Ct));
        Assert.DoesNotContain(guest.Net.TapName, await _lab.Host.RunCheckedAsync("nft", ["list", "table", "inet", "kindling"], ct: Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusAsync_AfterTraffic_ShowsAddressPolicyAndBytes()
    {
        LabGuest guest = await _lab.AddGuestAsync(113);
        await _service.AddVmAsync(guest.Net.Link, "denied", Ct);
        Assert.NotNull(await guest.GetAsync(NetnsLab.WebServer, 80, TimeSpan.FromSeconds(20)));

        GuestVmStatus vm = Assert.Single(await _service.StatusAsync(Ct));

        Assert.Equal((guest.Net.TapName, guest.Net.GuestAddress, "deny 203.0.113.10:8080"), (vm.TapName, vm.GuestAddress, vm.Policy));
        Assert.True(vm.BytesOut > 0 && vm.BytesIn > 0, $"bytes out {vm.BytesOut}, in {vm.BytesIn}");
    }

    [Fact]
    public async Task StartAsync_NoDefaultRoute_EgressNoneAndVmsStillAdded()
    {
        await using NetnsLab lab = await NetnsLab.StartAsync(defaultRoute: false);
        await using var service = new GuestNetworkService(new NetworkOptions { DnsServers = [NetnsLab.DnsServer.ToString()] }, Tenants, lab.Host);
        await service.StartAsync(Ct);
        LabGuest guest = await lab.AddGuestAsync(114);

        await service.AddVmAsync(guest.Net.Link, "open", Ct);

        Assert.Null(service.Uplink);
        Assert.Null(await guest.GetAsync(NetnsLab.WebServer, 80));
        Assert.Equal("none", Assert.Single(await service.StatusAsync(Ct)).Policy);
    }

    [Fact]
    public async Task StartAsync_WithoutNft_NamesTheDebianPackage()
    {
        await using var service = new GuestNetworkService(_lab.Options(), Tenants, new NetworkHost(_lab.Host.Namespace, toolPath: "/nonexistent"));

        NetworkSetupException e = await Assert.ThrowsAsync<NetworkSetupException>(() => service.StartAsync(Ct));

        Assert.Contains("nftables", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_TableOutsideItsOwn_NeverTouched()
    {
        await _lab.Host.RunCheckedAsync("nft", ["add", "table", "inet", "hostfw"], ct: Ct);
        await _lab.Host.RunCheckedAsync("nft", ["add", "chain", "inet", "hostfw", "input", "{ type filter hook input priority 0; policy accept; }"], ct: Ct);
        await _lab.Host.RunCheckedAsync("nft", ["add", "rule", "inet", "hostfw", "input", "tcp", "dport", "9", "counter", "accept"], ct: Ct);
        string before = await _lab.Host.RunCheckedAsync("nft", ["list", "table", "inet", "hostfw"], ct: Ct);

        await using var again = new GuestNetworkService(_lab.Options(), Tenants, _lab.Host);
        await again.StartAsync(Ct);
        LabGuest guest = await _lab.AddGuestAsync(115);
        await again.AddVmAsync(guest.Net.Link, "open", Ct);
        await again.RemoveVmAsync(guest.Net.TapName, Ct);

        Assert.Equal(before, await _lab.Host.RunCheckedAsync("nft", ["list", "table", "inet", "hostfw"], ct: Ct));
    }
}
