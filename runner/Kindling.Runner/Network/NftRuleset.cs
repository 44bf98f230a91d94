using System.Globalization;
using System.Text;

namespace Kindling.Runner.Network;

/// <summary>What one VM has in <c>table inet kindling</c>: the key of every element and the chain its egress goes to.</summary>
public sealed record GuestVmEntry(string TapName, string GuestAddress, string GuestMac, string GatewayAddress, string EgressChain, bool GatewayServices)
{
    public string TxCounter => TapName + "_tx";
    public string RxCounter => TapName + "_rx";
}

/// <summary>A host port guests may reach on their gateway (<c>Kindling:Network:HostPorts</c>).</summary>
public sealed record HostPort(string Protocol, int Port)
{
    public static (HostPort? Value, string? Problem) Parse(string text)
    {
        string[] parts = text.Trim().Split('/');
        string proto = parts.Length == 2 ? parts[1].ToLowerInvariant() : "tcp";
        if (parts.Length > 2 || proto is not ("tcp" or "udp")
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            return (null, $"'{text}' is not a port such as 3128 (TCP) or 3128/udp");
        }

        return (new HostPort(proto, port), null);
    }
}

/// <summary>
/// The text of <c>table inet kindling</c> (for <c>nft -f</c>): the static part, defined once at start, and per-VM
/// batches that only add or delete set and map elements and two named counters, never a chain rebuild.
/// <list type="bullet">
/// <item>prerouting (raw): from a TAP, IPv6 is dropped, and IPv4 whose TAP . source address . source MAC is not a
/// registered guest's (<c>@guests</c>) is dropped (anti-spoofing; an unregistered TAP is dropped whole).</item>
/// <item>input: from a TAP, only replies to the host's own connections, DNS and <c>@host_ports</c> on the VM's own
/// gateway (<c>@gateways</c>); the rest of the host, other VMs' gateways included, is dropped.</item>
/// <item>forward: to a TAP only replies (so no VM → VM); from a TAP only out of the uplink, never to
/// <c>@blocked4</c>, then the tenant's chain through the <c>@egress</c> verdict map.</item>
/// <item>postrouting: masquerade to the uplink's address; bytes in/out per VM in named counters via <c>@tx</c>/<c>@rx</c>.</item>
/// </list>
/// Filter chains accept by default and judge only traffic of TAPs (<c>kt*</c>): the host's own firewall stays in charge
/// of everything else.
/// </summary>
public static class NftRuleset
{
    public const string Table = "inet kindling";
    public const string TapPattern = "kt*";
    public const string NoneChain = "egress_none";

    /// <summary>The whole table: replaces any previous definition atomically (with <paramref name="keep"/> re-added).</summary>
    public static string Define(string? uplink, IReadOnlyList<(string Chain, EgressPolicy Policy)> tenants, IReadOnlyList<HostPort> hostPorts,
        IEnumerable<GuestVmEntry> keep)
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"add table {Table}\ndelete table {Table}\ntable {Table} {{\n");
        b.Append(CultureInfo.InvariantCulture, $"  counter {NftSession.SyncCounter} {{ packets 0 bytes 0 }}\n");
        b.Append("  set guests { type ifname . ipv4_addr . ether_addr; }\n");
        b.Append("  set gateways { type ifname . ipv4_addr; }\n");
        b.Append("  set host_ports { type inet_proto . inet_service; ");
        if (hostPorts.Count > 0)
        {
            b.Append(CultureInfo.InvariantCulture, $"elements = {{ {string.Join(", ", hostPorts.Select(p => $"{p.Protocol} . {p.Port}"))} }} ");
        }

        b.Append("}\n");
        b.Append(CultureInfo.InvariantCulture, $"  set blocked4 {{ type ipv4_addr; flags interval; auto-merge; elements = {{ {string.Join(", ", GuestIsolation.BlockedRanges)} }} }}\n");
        b.Append("  map egress { type ifname : verdict; }\n  map tx { type ifname : counter; }\n  map rx { type ifname : counter; }\n");
        Chain(b, "prerouting", "type filter hook prerouting priority raw; policy accept;", $"iifname \"{TapPattern}\" jump guest_pre");
        Chain(b, "guest_pre", null, "meta nfproto ipv6 drop", "iifname . ip saddr . ether saddr != @guests drop", "counter name iifname map @tx");
        Chain(b, "input", "type filter hook input priority filter - 1; policy accept;", $"iifname \"{TapPattern}\" jump guest_in");
        Chain(b, "guest_in", null,
            "ct state established,related accept",
            "meta l4proto { tcp, udp } th dport 53 iifname . ip daddr @gateways accept",
            "meta l4proto . th dport @host_ports iifname . ip daddr @gateways accept",
            "drop");
        Chain(b, "forward", "type filter hook forward priority filter - 1; policy accept;",
            $"oifname \"{TapPattern}\" ct state established,related accept",
            $"oifname \"{TapPattern}\" drop",
            $"iifname \"{TapPattern}\" jump guest_out");
        Chain(b, "guest_out", null,
            uplink is null ? "drop" : $"oifname != {Quote(uplink)} drop",
            "ip daddr @blocked4 drop",
            "iifname vmap @egress",
            "drop");
        Chain(b, NoneChain, null, "drop");
        foreach ((string chain, EgressPolicy policy) in tenants)
        {
            Chain(b, chain, null, [.. TenantRules(policy)]);
        }

        Chain(b, "count_out", "type filter hook postrouting priority filter; policy accept;", $"oifname \"{TapPattern}\" counter name oifname map @rx");
        Chain(b, "postrouting", "type nat hook postrouting priority srcnat; policy accept;",
            uplink is null ? [] : [$"iifname \"{TapPattern}\" oifname {Quote(uplink)} masquerade"]);
        b.Append("}\n");
        foreach (GuestVmEntry vm in keep)
        {
            b.Append(AddVm(vm));
        }

        return b.ToString();
    }

    /// <summary>The rules of a tenant's egress chain: deny entries, then allow entries, then the default.</summary>
    public static IEnumerable<string> TenantRules(EgressPolicy policy)
    {
        if (policy.None)
        {
            yield return "drop";
            yield break;
        }

        foreach (EgressDestination d in policy.Deny)
        {
            yield return Match(d) + " drop";
        }

        foreach (EgressDestination d in policy.Allow)
        {
            yield return Match(d) + " accept";
        }

        yield return policy.Allow.Count > 0 ? "drop" : "accept";
    }

    /// <summary>One VM's elements and counters, added in one transaction.</summary>
    public static string AddVm(GuestVmEntry vm, long txBytes = 0, long txPackets = 0, long rxBytes = 0, long rxPackets = 0)
    {
        string tap = Quote(vm.TapName);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"add counter {Table} {vm.TxCounter} {{ packets {txPackets} bytes {txBytes} }}\n");
        b.Append(CultureInfo.InvariantCulture, $"add counter {Table} {vm.RxCounter} {{ packets {rxPackets} bytes {rxBytes} }}\n");
        b.Append(CultureInfo.InvariantCulture, $"add element {Table} guests {{ {tap} . {vm.GuestAddress} . {vm.GuestMac} }}\n");
        if (vm.GatewayServices)
        {
            b.Append(CultureInfo.InvariantCulture, $"add element {Table} gateways {{ {tap} . {vm.GatewayAddress} }}\n");
        }

        b.Append(CultureInfo.InvariantCulture, $"add element {Table} egress {{ {tap} : goto {vm.EgressChain} }}\n");
        b.Append(CultureInfo.InvariantCulture, $"add element {Table} tx {{ {tap} : \"{vm.TxCounter}\" }}\n");
        b.Append(CultureInfo.InvariantCulture, $"add element {Table} rx {{ {tap} : \"{vm.RxCounter}\" }}\n");
        return b.ToString();
    }

    /// <summary>Deletes exactly what <see cref="AddVm"/> added (every element must exist: nft refuses the batch otherwise).</summary>
    public static string RemoveVm(GuestVmEntry vm)
    {
        string tap = Quote(vm.TapName);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"delete element {Table} tx {{ {tap} }}\n");
        b.Append(CultureInfo.InvariantCulture, $"delete element {Table} rx {{ {tap} }}\n");
        b.Append(CultureInfo.InvariantCulture, $"delete element {Table} egress {{ {tap} }}\n");
        if (vm.GatewayServices)
        {
            b.Append(CultureInfo.InvariantCulture, $"delete element {Table} gateways {{ {tap} . {vm.GatewayAddress} }}\n");
        }

        b.Append(CultureInfo.InvariantCulture, $"delete element {Table} guests {{ {tap} . {vm.GuestAddress} . {vm.GuestMac} }}\n");
        b.Append(CultureInfo.InvariantCulture, $"delete counter {Table} {vm.TxCounter}\n");
        b.Append(CultureInfo.InvariantCulture, $"delete counter {Table} {vm.RxCounter}\n");
        return b.ToString();
    }

    /// <summary>The chain of a tenant's policy: <c>tenant_NAME_HASH</c> (the name made safe, the hash keeps names apart).</summary>
    public static string ChainFor(string tenant)
    {
        string safe = new([.. tenant.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').Take(24)]);
        uint hash = 2166136261;
        foreach (char c in tenant)
        {
            hash = (hash ^ c) * 16777619;
        }

        return string.Create(CultureInfo.InvariantCulture, $"tenant_{safe}_{hash:x8}");
    }

    /// <summary>Whether <paramref name="name"/> may be a TAP of ours in nft text and counter names.</summary>
    public static bool IsTapName(string name) =>
        name.Length is > 2 and <= 15 && name.StartsWith("kt", StringComparison.Ordinal) && name.All(char.IsAsciiLetterOrDigit);

    private static string Match(EgressDestination d) => d.Port is { } port
        ? string.Create(CultureInfo.InvariantCulture, $"ip daddr {d.Cidr} meta l4proto {{ tcp, udp }} th dport {port}")
        : $"ip daddr {d.Cidr}";

    private static string Quote(string name) =>
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or ':') ? $"\"{name}\"" : throw new ArgumentException($"'{name}' is not an interface name", nameof(name));

    private static void Chain(StringBuilder b, string name, string? hook, params string[] rules)
    {
        b.Append(CultureInfo.InvariantCulture, $"  chain {name} {{\n");
        if (hook is not null)
        {
            b.Append(CultureInfo.InvariantCulture, $"    {hook}\n");
        }

        foreach (string rule in rules)
        {
            b.Append(CultureInfo.InvariantCulture, $"    {rule}\n");
        }

        b.Append("  }\n");
    }
}
