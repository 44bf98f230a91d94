using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Runner.Network;

/// <summary>
/// The guest network: routed, one /30 per TAP (Launch/GuestNetwork), forwarded and source-NATed out of the
/// uplink, a DNS forwarder on every gateway, and isolation, all in one nftables table of its own
/// (<c>table inet kindling</c>, see <see cref="NftRuleset"/>); the host's other tables are never touched.
/// <para>
/// <see cref="StartAsync"/> defines the table in one transaction, keeping the elements of VMs already in it (another
/// runner's, or leftovers the reaper will remove), and turns on IPv4 forwarding. A VM costs one <c>nft -f</c> batch of
/// set and map elements when it is added and one when it is removed, whatever the number of VMs.
/// </para>
/// Without a default route (and no <c>Uplink</c>) guests get egress <c>none</c> with a warning; jobs still run.
/// Reuse: <c>new GuestNetworkService(options, tenants, new NetworkHost("ns"), logger)</c> builds the same network inside
/// a network namespace (tests stand an internet up beside it, see tests/Kindling.Runner.Tests/Network/NetnsLab.cs).
/// </summary>
public sealed partial class GuestNetworkService : IGuestNetworkService, IAsyncDisposable
{
    private readonly NetworkOptions _options;
    private readonly NetworkHost _host;
    private readonly ILogger _log;
    private readonly Dictionary<string, (string Chain, EgressPolicy Policy)> _tenants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, GuestVmEntry> _vms = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DnsForwarder? _dns;
    private NftSession? _session;
    private bool _started;

    /// <param name="tenants">Each tenant's name and egress settings (validated at start).</param>
    public GuestNetworkService(NetworkOptions options, IEnumerable<KeyValuePair<string, EgressOptions>> tenants, NetworkHost? host = null, ILogger<GuestNetworkService>? log = null)
    {
        _options = options;
        _host = host ?? NetworkHost.Root;
        _log = (ILogger?)log ?? NullLogger.Instance;
        foreach ((string name, EgressOptions egress) in tenants)
        {
            (EgressPolicy policy, List<(string Key, string Message)> problems) = EgressPolicy.Parse(egress);
            if (problems.Count > 0)
            {
                throw new ArgumentException($"tenant {name}: Egress:{problems[0].Key}: {problems[0].Message}", nameof(tenants));
            }

            _tenants[name] = (NftRuleset.ChainFor(name), policy);
        }
    }

    /// <summary>The interface guests' traffic leaves by; null when there is none (egress none).</summary>
    public string? Uplink { get; private set; }

    /// <summary>Where the DNS forwarder sends queries.</summary>
    public IReadOnlyList<IPEndPoint> DnsUpstreams => _dns?.Upstreams ?? [];

    public NetworkHost Host => _host;

    public async Task StartAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (!_started)
            {
                await StartLockedAsync(ct);
                _started = true;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StartLockedAsync(CancellationToken ct)
    {
        ToolResult version = await _host.RunAsync("nft", ["--version"], null, ct);
        if (version.ExitCode != 0)
        {
            throw new NetworkSetupException(NetworkHost.MissingTool("nft"));
        }

        Uplink = _options.Uplink is { Length: > 0 } configured ? configured : await _host.DefaultRouteInterfaceAsync(ct);
        if (Uplink is null)
        {
            LogNoUplink(_log);
        }
        else if (!await _host.InterfaceExistsAsync(Uplink, ct))
        {
            throw new NetworkSetupException($"Kindling:Network:Uplink: interface '{Uplink}' does not exist (ip link lists the interfaces); name the one guests' traffic should leave by, or leave it empty for the default route's");
        }

        List<IPEndPoint> upstreams = _options.DnsServers.Count > 0
            ? [.. _options.DnsServers.Select(s => new IPEndPoint(IPAddress.Parse(s), DnsForwarder.Port))]
            : [.. ResolvConf.HostResolvers().Select(a => new IPEndPoint(a, DnsForwarder.Port))];
        if (upstreams.Count == 0)
        {
            LogNoResolvers(_log, ResolvConf.Path);
        }

        // Keep what is there: VMs of another runner on this host, or leftovers for the reaper.
        Dictionary<string, TapElements> existing = await SnapshotAsync(ct);
        HashSet<string> chains = [.. _tenants.Values.Select(t => t.Chain)];
        List<GuestVmEntry> keep = [.. existing.Values
            .Select(t => t.Entry(c => chains.Contains(c) ? c : NftRuleset.NoneChain))
            .OfType<GuestVmEntry>()
            .Select(e => Uplink is null ? e with { EgressChain = NftRuleset.NoneChain } : e)];
        List<HostPort> ports = [.. _options.HostPorts.Select(p => HostPort.Parse(p).Value!)];
        string ruleset = NftRuleset.Define(Uplink, [.. _tenants.Values.DistinctBy(t => t.Chain)], ports, keep);
        await _host.RunCheckedAsync("nft", ["-f", "-"], ruleset, ct);
        _session?.Dispose();
        _session = NftSession.TryStart(_host);
        EnableForwarding();
        _dns = new DnsForwarder(_host, upstreams);
        foreach (GuestVmEntry vm in keep)
        {
            _vms[vm.TapName] = vm;
        }

        string resolvers = string.Join(", ", upstreams);
        LogStarted(_log, Uplink ?? "(none)", resolvers, keep.Count);
    }

    public async Task AddVmAsync(GuestLink net, string tenant, CancellationToken ct)
    {
        await StartAsync(ct);
        if (_vms.ContainsKey(net.TapName))
        {
            await RemoveVmAsync(net.TapName, ct); // a leftover of an earlier attempt on this TAP
        }

        (string Chain, EgressPolicy Policy) t = _tenants.TryGetValue(tenant, out var known) ? known : (NftRuleset.NoneChain, EgressPolicy.Nothing);
        string chain = Uplink is null ? NftRuleset.NoneChain : t.Chain;
        var entry = new GuestVmEntry(net.TapName, net.GuestAddress, net.GuestMac, net.HostAddress, chain, GatewayServices: !t.Policy.None);
        if (entry.GatewayServices)
        {
            _dns!.Listen(IPAddress.Parse(net.HostAddress));
        }

        if (await ApplyAsync(NftRuleset.AddVm(entry), ct) is { } refused)
        {
            await _dns!.StopAsync(IPAddress.Parse(net.HostAddress));
            throw new NetworkSetupException($"nft refused the elements of {net.TapName}: {refused}");
        }

        _vms[entry.TapName] = entry;
    }

    public async Task RemoveVmAsync(string tapName, CancellationToken ct)
    {
        if (!NftRuleset.IsTapName(tapName))
        {
            return;
        }

        if (_vms.TryRemove(tapName, out GuestVmEntry? entry))
        {
            if (_dns is not null)
            {
                await _dns.StopAsync(IPAddress.Parse(entry.GatewayAddress is { Length: > 0 } g ? g : "0.0.0.0"));
            }

            if (await ApplyAsync(NftRuleset.RemoveVm(entry), ct) is null)
            {
                return;
            }
        }

        // Not ours in this process (a crash before), or the table changed under us: delete what is there.
        if ((await SnapshotAsync(ct)).GetValueOrDefault(tapName) is { } present && present.RemoveBatch() is { Length: > 0 } batch
            && await ApplyAsync(batch, ct) is { } refused)
        {
            throw new NetworkSetupException($"nft refused to remove the elements of {tapName}: {refused}");
        }
    }

    /// <summary>One transaction through the long-lived nft session (or <c>nft -f</c> without one): null when applied, else nft's error.</summary>
    private async Task<string?> ApplyAsync(string batch, CancellationToken ct)
    {
        if (_session is { IsBroken: false } session)
        {
            try
            {
                return await session.RunAsync(batch, ct);
            }
            catch (IOException)
            {
                // the session is gone: nft -f below
            }
        }

        ToolResult r = await _host.RunAsync("nft", ["-f", "-"], batch, ct);
        return r.ExitCode == 0 ? null : r.Error.Trim();
    }

    public async Task<IReadOnlyList<string>> ListTapsAsync(CancellationToken ct) => [.. (await SnapshotAsync(ct)).Keys.Order(StringComparer.Ordinal)];

    public async Task<IReadOnlyList<GuestVmStatus>> StatusAsync(CancellationToken ct)
    {
        Dictionary<string, string> policyByChain = _tenants.Values.DistinctBy(t => t.Chain).ToDictionary(t => t.Chain, t => t.Policy.Describe());
        return [.. (await SnapshotAsync(ct)).Values.Where(t => t.GuestAddress is not null).OrderBy(t => t.TapName, StringComparer.Ordinal).Select(t =>
            new GuestVmStatus(t.TapName, t.GuestAddress!,
                t.EgressChain is { } c && policyByChain.TryGetValue(c, out string? p) ? p : EgressPolicy.NoneName,
                t.TxCounter?.Bytes ?? 0, t.RxCounter?.Bytes ?? 0))];
    }

    /// <summary>Each TAP's elements in the table now; empty when the table does not exist.</summary>
    public async Task<Dictionary<string, TapElements>> SnapshotAsync(CancellationToken ct)
    {
        ToolResult r;
        try
        {
            r = await _host.RunAsync("nft", ["-j", "list", "table", "inet", "kindling"], null, ct);
        }
        catch (NetworkSetupException e) when (e.Message == NetworkHost.MissingTool("nft"))
        {
            return new Dictionary<string, TapElements>(StringComparer.Ordinal); // no nft, so no table and nothing to remove
        }

        return r.ExitCode == 0 ? NftSnapshot.Parse(r.Output) : new Dictionary<string, TapElements>(StringComparer.Ordinal);
    }

    /// <summary>Removes the table (tests and benchmarks; the daemon leaves it for the next start).</summary>
    public async Task DeleteTableAsync(CancellationToken ct)
    {
        await _host.RunAsync("nft", ["delete", "table", "inet", "kindling"], null, ct);
        _session?.Dispose();
        _session = null;
        _vms.Clear();
        _started = false;
    }

    public async ValueTask DisposeAsync()
    {
        _session?.Dispose();
        if (_dns is not null)
        {
            await _dns.DisposeAsync();
        }

        _gate.Dispose();
    }

    /// <summary>net.ipv4.ip_forward = 1 (in the namespace when there is one: /proc/sys/net is per namespace of the opener).</summary>
    private void EnableForwarding()
    {
        const string path = "/proc/sys/net/ipv4/ip_forward";
        try
        {
            if (_host.Namespace is { } ns)
            {
                NetworkHost.InNamespace(ns, () => { File.WriteAllText(path, "1"); return 0; });
            }
            else if (File.ReadAllText(path).Trim() != "1")
            {
                File.WriteAllText(path, "1");
                LogForwardingOn(_log);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NetworkSetupException($"cannot turn on IPv4 forwarding ({path}): {e.Message}; the guest network needs root", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "guest network: no default route and no Kindling:Network:Uplink, so guests get no egress (policy none); jobs still run")]
    private static partial void LogNoUplink(ILogger log);

    [LoggerMessage(Level = LogLevel.Warning, Message = "guest network: no resolvers in {Path} and no Kindling:Network:DnsServers; guests' DNS queries get SERVFAIL")]
    private static partial void LogNoResolvers(ILogger log, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "guest network: table inet kindling ready, uplink {Uplink}, DNS via {Upstreams}, {Kept} VMs kept from before")]
    private static partial void LogStarted(ILogger log, string uplink, string upstreams, int kept);

    [LoggerMessage(Level = LogLevel.Information, Message = "guest network: turned on IPv4 forwarding (net.ipv4.ip_forward = 1)")]
    private static partial void LogForwardingOn(ILogger log);
}
