using System.Net;

namespace Kindling.Runner.Network;

/// <summary>
/// The host's resolvers, for the DNS forwarder when <c>Kindling:Network:DnsServers</c> is empty: the
/// <c>nameserver</c> lines of /etc/resolv.conf. systemd-resolved's stub (127.0.0.53 or 127.0.0.54) is replaced by
/// the upstreams resolved itself uses (/run/systemd/resolve/resolv.conf), so names resolve as the host's do without
/// going through the stub; when that file is absent the stub is kept (the forwarder runs on the host and reaches it).
/// </summary>
public static class ResolvConf
{
    public const string Path = "/etc/resolv.conf";
    public const string ResolvedUpstreams = "/run/systemd/resolve/resolv.conf";

    public static IReadOnlyList<IPAddress> HostResolvers(string path = Path, string resolvedPath = ResolvedUpstreams)
    {
        List<IPAddress> servers = Nameservers(path);
        if (servers.Any(IsResolvedStub))
        {
            List<IPAddress> upstream = [.. Nameservers(resolvedPath).Where(a => !IsResolvedStub(a))];
            if (upstream.Count > 0)
            {
                servers = [.. servers.Where(a => !IsResolvedStub(a)).Concat(upstream).Distinct()];
            }
        }

        return servers;
    }

    /// <summary>The addresses of the <c>nameserver</c> lines (IPv6 zone suffixes dropped); none when the file is absent.</summary>
    public static List<IPAddress> Nameservers(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        List<IPAddress> list = [];
        foreach (string line in File.ReadLines(path))
        {
            string[] words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 2 && words[0] == "nameserver" && IPAddress.TryParse(words[1].Split('%')[0], out IPAddress? a))
            {
                list.Add(a);
            }
        }

        return list;
    }

    private static bool IsResolvedStub(IPAddress a) => a.Equals(IPAddress.Parse("127.0.0.53")) || a.Equals(IPAddress.Parse("127.0.0.54"));
}
