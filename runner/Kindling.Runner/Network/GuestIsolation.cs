using System.Net;

namespace Kindling.Runner.Network;

/// <summary>
/// The IPv4 ranges no guest may reach, whatever its tenant's policy: this-network, the private ranges (RFC 1918), CGNAT,
/// loopback, link-local (a cloud's metadata service at 169.254.169.254 among them), multicast and the reserved
/// 240/4 with broadcast. IPv6 is dropped whole. The guest's own MMDS never leaves its VMM, so it keeps working.
/// </summary>
public static class GuestIsolation
{
    public static readonly IReadOnlyList<string> BlockedRanges =
    [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
        "224.0.0.0/4", "240.0.0.0/4",
    ];

    /// <summary>The blocked range that wholly contains <paramref name="d"/>, or null.</summary>
    public static string? BlockedContaining(EgressDestination d)
    {
        uint start = Ipv4.ToUInt32(d.Network);
        foreach (string range in BlockedRanges)
        {
            string[] parts = range.Split('/');
            int prefix = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            uint net = Ipv4.ToUInt32(IPAddress.Parse(parts[0]));
            if (d.PrefixLength >= prefix && (start & Ipv4.Mask(prefix)) == net)
            {
                return range;
            }
        }

        return null;
    }
}
