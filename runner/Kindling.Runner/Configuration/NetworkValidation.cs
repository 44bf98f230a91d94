using System.Net;
using Kindling.Runner.Network;

namespace Kindling.Runner.Configuration;

/// <summary>The start-up checks of <c>Kindling:Network</c> and every tenant's <c>Egress</c>, each problem naming its key.</summary>
public static class NetworkValidation
{
    /// <param name="fail">Called with the key below <c>Kindling:</c> and the message.</param>
    public static void Validate(KindlingOptions o, Action<string, string> fail)
    {
        NetworkOptions n = o.Network;
        if (n.Uplink.Length > 0 && (n.Uplink.Length > 15 || n.Uplink.Any(c => char.IsWhiteSpace(c) || c is '/' or '"')))
        {
            fail("Network:Uplink", $"'{n.Uplink}' is not an interface name (at most 15 characters, no spaces or '/'); leave it empty for the default route's");
        }

        for (int i = 0; i < n.DnsServers.Count; i++)
        {
            if (!IPAddress.TryParse(n.DnsServers[i], out _))
            {
                fail($"Network:DnsServers:{i}", $"'{n.DnsServers[i]}' is not an IP address such as 192.0.2.53 (port 53 is used); leave the list empty for the host's resolvers");
            }
        }

        for (int i = 0; i < n.HostPorts.Count; i++)
        {
            if (HostPort.Parse(n.HostPorts[i]).Problem is { } problem)
            {
                fail($"Network:HostPorts:{i}", problem);
            }
            else if (HostPort.Parse(n.HostPorts[i]).Value!.Port == DnsForwarder.Port)
            {
                fail($"Network:HostPorts:{i}", "port 53 is the guests' DNS forwarder, always open on their gateway; remove it");
            }
        }

        for (int t = 0; t < o.Tenants.Count; t++)
        {
            foreach ((string key, string message) in EgressPolicy.Parse(o.Tenants[t].Egress).Problems)
            {
                fail($"Tenants:{t}:Egress:{key}", message);
            }
        }
    }
}
