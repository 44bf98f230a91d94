using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kindling.Runner.Network;

/// <summary>One destination of an allow or deny list: an IPv4 network and, optionally, a TCP/UDP port.</summary>
public sealed record EgressDestination(IPAddress Network, int PrefixLength, int? Port)
{
    /// <summary>As nft writes it: <c>203.0.113.0/24</c>, a single address without <c>/32</c>.</summary>
    public string Cidr => PrefixLength == 32 ? Network.ToString() : string.Create(CultureInfo.InvariantCulture, $"{Network}/{PrefixLength}");

    public override string ToString() => Port is { } p ? string.Create(CultureInfo.InvariantCulture, $"{Cidr}:{p}") : Cidr;

    /// <summary>Parses <c>CIDR[:port]</c>; the problem (to follow the key's name) when it is not one.</summary>
    public static (EgressDestination? Value, string? Problem) Parse(string text)
    {
        string s = text.Trim();
        int? port = null;
        int colon = s.LastIndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(s.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
            {
                return (null, $"'{text}': the port after ':' must be 1..65535 (e.g. 203.0.113.0/24:443)");
            }

            port = p;
            s = s[..colon];
        }

        int prefix = 32;
        int slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!int.TryParse(s.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > 32)
            {
                return (null, $"'{text}': the prefix length after '/' must be 0..32 (e.g. 203.0.113.0/24)");
            }

            s = s[..slash];
        }

        if (!IPAddress.TryParse(s, out IPAddress? address) || address.AddressFamily != AddressFamily.InterNetwork || s.Count(c => c == '.') != 3)
        {
            return (null, $"'{text}' is not an IPv4 address or CIDR with an optional port, such as 198.51.100.7 or 203.0.113.0/24:443 (guests have no IPv6)");
        }

        uint bits = Ipv4.ToUInt32(address);
        if ((bits & ~Ipv4.Mask(prefix)) != 0)
        {
            return (null, $"'{text}' has host bits set after /{prefix}; write the network, {Ipv4.FromUInt32(bits & Ipv4.Mask(prefix))}/{prefix}");
        }

        return (new EgressDestination(address, prefix, port), null);
    }
}

/// <summary>A tenant's egress policy, parsed and checked (see <see cref="EgressOptions"/>).</summary>
public sealed record EgressPolicy(bool None, IReadOnlyList<EgressDestination> Allow, IReadOnlyList<EgressDestination> Deny)
{
    public const string Internet = "internet";
    public const string NoneName = "none";

    public static readonly EgressPolicy Default = new(false, [], []);
    public static readonly EgressPolicy Nothing = new(true, [], []);

    /// <summary>How the admin page shows it: <c>internet</c>, <c>none</c>, <c>allow 2, deny 1</c>.</summary>
    public string Describe() => None ? NoneName
        : Allow.Count == 0 && Deny.Count == 0 ? Internet
        : string.Join(", ", new[] { Allow.Count > 0 ? $"allow {string.Join(' ', Allow)}" : null, Deny.Count > 0 ? $"deny {string.Join(' ', Deny)}" : null }.OfType<string>());

    /// <summary>
    /// The policy of <paramref name="o"/>, and every problem with it as (key below <c>Egress</c>, message). An
    /// entry inside a range guests can never reach is refused: it would look open and never be.
    /// </summary>
    public static (EgressPolicy Policy, List<(string Key, string Message)> Problems) Parse(EgressOptions o)
    {
        List<(string, string)> problems = [];
        bool none = false;
        switch (o.Policy.Trim().ToLowerInvariant())
        {
            case Internet:
                break;
            case NoneName:
                none = true;
                if (o.Allow.Count > 0)
                {
                    problems.Add(("Allow", "is not empty but Policy is none (nothing is reachable); remove Allow or set Policy to internet"));
                }

                break;
            default:
                problems.Add(("Policy", $"'{o.Policy}' is unknown; use internet (public addresses, narrowed by Allow and Deny) or none"));
                break;
        }

        List<EgressDestination> Entries(List<string> list, string key)
        {
            List<EgressDestination> parsed = [];
            for (int i = 0; i < list.Count; i++)
            {
                (EgressDestination? d, string? problem) = EgressDestination.Parse(list[i]);
                if (d is null)
                {
                    problems.Add(($"{key}:{i}", problem!));
                }
                else if (key == "Allow" && GuestIsolation.BlockedContaining(d) is { } blocked)
                {
                    problems.Add(($"{key}:{i}", $"'{list[i]}' is inside {blocked}, which guests can never reach; for a service on this host use Kindling:Network:HostPorts"));
                }
                else
                {
                    parsed.Add(d);
                }
            }

            return parsed;
        }

        var policy = new EgressPolicy(none, Entries(o.Allow, "Allow"), Entries(o.Deny, "Deny"));
        return (policy, problems);
    }
}

/// <summary>IPv4 addresses as 32-bit numbers (network byte order read as big-endian).</summary>
internal static class Ipv4
{
    public static uint ToUInt32(IPAddress a)
    {
        byte[] b = a.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    public static IPAddress FromUInt32(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);

    public static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
}
