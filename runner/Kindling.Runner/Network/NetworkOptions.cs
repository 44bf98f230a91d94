namespace Kindling.Runner.Network;

/// <summary>
/// <c>Kindling:Network</c>: how guests reach the internet (forwarding and source NAT to <see cref="Uplink"/>), the DNS
/// forwarder on each VM's gateway and the host ports guests may use. Applies when <c>Launcher:Network</c> is on.
/// Isolation (no VM → VM, VM → host, private, link-local, CGNAT, loopback, multicast ranges or IPv6; anti-spoofing)
/// is always on. See <see cref="GuestNetworkService"/>.
/// </summary>
public sealed class NetworkOptions
{
    /// <summary>The interface guests' traffic leaves by (source NAT to its address). Empty: the default route's.</summary>
    public string Uplink { get; set; } = "";

    /// <summary>
    /// The resolvers the gateway's DNS forwarder asks (IPv4 or IPv6 addresses, port 53). Empty: the host's, from
    /// /etc/resolv.conf (systemd-resolved's 127.0.0.53 stub replaced by its upstreams).
    /// </summary>
    public List<string> DnsServers { get; set; } = [];

    /// <summary>Ports on its own gateway (the host) a guest may reach besides DNS, as <c>3128</c> (TCP) or <c>3128/udp</c>.</summary>
    public List<string> HostPorts { get; set; } = [];
}

/// <summary>
/// <c>Tenants[].Egress</c>: where this tenant's VMs may connect. <see cref="Policy"/> <c>internet</c> (public addresses),
/// or <c>none</c>; <see cref="Allow"/> narrows <c>internet</c> to the listed destinations, <see cref="Deny"/> takes
/// destinations away. Entries are <c>CIDR[:port]</c> or <c>ADDRESS[:port]</c> (IPv4; a port applies to TCP and UDP).
/// </summary>
public sealed class EgressOptions
{
    public string Policy { get; set; } = "internet";
    public List<string> Allow { get; set; } = [];
    public List<string> Deny { get; set; } = [];
}
