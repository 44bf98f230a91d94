using Kindling.Runner.Configuration;
using Kindling.Runner.Network;
using Microsoft.Extensions.Configuration;

namespace Kindling.Runner.Tests.Network;

/// <summary>Kindling:Network and Tenants[].Egress at start: every problem named by its key; the rules nft is given.</summary>
public sealed class NetworkConfigurationTests
{
    private static IReadOnlyList<string> Problems(Dictionary<string, string?> extra)
    {
        var all = new Dictionary<string, string?>
        {
            ["Kindling:StateDirectory"] = "/tmp/kindling-net-config",
            ["Kindling:Host:Vcpus"] = "4", ["Kindling:Host:MemoryMib"] = "4096",
            ["Kindling:Pools:0:Name"] = "default", ["Kindling:Pools:0:Labels:0"] = "kindling",
            ["Kindling:Pools:0:Vcpus"] = "1", ["Kindling:Pools:0:MemoryMib"] = "256",
            ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Kind"] = "local",
        };
        foreach ((string k, string? v) in extra)
        {
            all[k] = v;
        }

        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var o = new KindlingOptions();
        ConfigurationSchema.Bind(config, o);
        var result = new KindlingOptionsValidator(config).Validate(null, o);
        return result.Failed ? [.. result.Failures] : [];
    }

    [Fact]
    public void Validate_GoodNetworkAndEgress_NoProblems()
    {
        Assert.Empty(Problems(new()
        {
            ["Kindling:Network:Uplink"] = "eth0", ["Kindling:Network:DnsServers:0"] = "192.0.2.53", ["Kindling:Network:HostPorts:0"] = "3128",
            ["Kindling:Network:HostPorts:1"] = "8125/udp", ["Kindling:Tenants:0:Egress:Allow:0"] = "203.0.113.0/24:443",
            ["Kindling:Tenants:0:Egress:Allow:1"] = "198.51.100.7", ["Kindling:Tenants:0:Egress:Deny:0"] = "198.51.100.8:22",
        }));
    }

    [Theory]
    [InlineData("Kindling:Tenants:0:Egress:Policy", "open", "Kindling:Tenants:0:Egress:Policy: 'open' is unknown")]
    [InlineData("Kindling:Tenants:0:Egress:Allow:0", "203.0.113.0/33", "Kindling:Tenants:0:Egress:Allow:0: '203.0.113.0/33': the prefix length")]
    [InlineData("Kindling:Tenants:0:Egress:Allow:0", "203.0.113.1/24", "Kindling:Tenants:0:Egress:Allow:0: '203.0.113.1/24' has host bits set after /24; write the network, 203.0.113.0/24")]
    [InlineData("Kindling:Tenants:0:Egress:Deny:0", "198.51.100.7:70000", "Kindling:Tenants:0:Egress:Deny:0: '198.51.100.7:70000': the port")]
    [InlineData("Kindling:Tenants:0:Egress:Deny:0", "github.com", "Kindling:Tenants:0:Egress:Deny:0: 'github.com' is not an IPv4 address")]
    [InlineData("Kindling:Tenants:0:Egress:Allow:0", "10.1.2.3:3128", "Kindling:Tenants:0:Egress:Allow:0: '10.1.2.3:3128' is inside 10.0.0.0/8")]
    [InlineData("Kindling:Network:DnsServers:0", "dns.example", "Kindling:Network:DnsServers:0: 'dns.example' is not an IP address")]
    [InlineData("Kindling:Network:HostPorts:0", "3128/sctp", "Kindling:Network:HostPorts:0: '3128/sctp' is not a port")]
    [InlineData("Kindling:Network:HostPorts:0", "53", "Kindling:Network:HostPorts:0: port 53 is the guests' DNS forwarder")]
    [InlineData("Kindling:Network:Uplink", "eth 0", "Kindling:Network:Uplink: 'eth 0' is not an interface name")]
    [InlineData("Kindling:Network:Uplnk", "eth0", "Kindling:Network:Uplnk: unknown key; did you mean Kindling:Network:Uplink?")]
    [InlineData("Kindling:Tenants:0:Egress:Alow:0", "1.2.3.4", "Kindling:Tenants:0:Egress:Alow: unknown key; did you mean Kindling:Tenants:0:Egress:Allow?")]
    public void Validate_BadValue_RefusedNamingTheKey(string key, string value, string expected)
    {
        IReadOnlyList<string> problems = Problems(new() { [key] = value });

        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoneWithAllowList_RefusedNamingAllow()
    {
        IReadOnlyList<string> problems = Problems(new() { ["Kindling:Tenants:0:Egress:Policy"] = "none", ["Kindling:Tenants:0:Egress:Allow:0"] = "203.0.113.0/24" });

        Assert.Contains(problems, p => p.StartsWith("Kindling:Tenants:0:Egress:Allow: is not empty but Policy is none", StringComparison.Ordinal));
    }

    [Fact]
    public void TenantRules_DenyBeforeAllowThenDrop()
    {
        (EgressPolicy policy, _) = EgressPolicy.Parse(new EgressOptions { Allow = ["203.0.113.0/24:443"], Deny = ["203.0.113.9"] });

        Assert.Equal(
            ["ip daddr 203.0.113.9 drop", "ip daddr 203.0.113.0/24 meta l4proto { tcp, udp } th dport 443 accept", "drop"],
            NftRuleset.TenantRules(policy));
        Assert.Equal(["accept"], NftRuleset.TenantRules(EgressPolicy.Default));
        Assert.Equal(["drop"], NftRuleset.TenantRules(EgressPolicy.Nothing));
    }

    [Fact]
    public void ChainFor_NamesThatLookAlike_DifferentChains()
    {
        Assert.NotEqual(NftRuleset.ChainFor("a.b"), NftRuleset.ChainFor("a_b"));
        Assert.Matches("^tenant_a_b_[0-9a-f]{8}$", NftRuleset.ChainFor("a.b"));
    }

    [Fact]
    public void HostResolvers_SystemdResolvedStub_ReplacedByItsUpstreams()
    {
        string dir = Directory.CreateTempSubdirectory("kindling-resolv-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "resolv.conf"), "# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example\n");
            File.WriteAllText(Path.Combine(dir, "upstream.conf"), "nameserver 192.0.2.1\nnameserver fe80::1%eth0\n");

            Assert.Equal(["192.0.2.1", "fe80::1"], ResolvConf.HostResolvers(Path.Combine(dir, "resolv.conf"), Path.Combine(dir, "upstream.conf")).Select(a => a.ToString()));
            Assert.Equal(["127.0.0.53"], ResolvConf.HostResolvers(Path.Combine(dir, "resolv.conf"), Path.Combine(dir, "absent.conf")).Select(a => a.ToString()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ServFail_Query_AnswerWithItsIdAndRcode2()
    {
        byte[] query = DnsMessages.Query("forge.test", 0xBEEF);

        byte[] answer = DnsForwarder.ServFail(query);

        Assert.Equal(new DnsAnswer(2, null), DnsMessages.Parse(answer, query));
    }
}
