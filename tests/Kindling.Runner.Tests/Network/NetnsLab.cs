using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kindling.Runner.Launch;
using Kindling.Runner.Network;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Network;

/// <summary>
/// A host, its guests and an internet, each a network namespace of its own (nothing touches this machine's own stack):
/// <list type="bullet">
/// <item><see cref="Host"/>: the runner's stack; uplink <see cref="Uplink"/> 198.51.100.1/24, default route via the internet.</item>
/// <item>the internet: 198.51.100.2 on the uplink's peer; a web server on <see cref="WebServer"/> (ports 80 and 8080) and
/// on the cloud-metadata address <see cref="Metadata"/>:80, a DNS server on <see cref="DnsServer"/> that answers A queries
/// from <see cref="Names"/>.</item>
/// <item>a private network: <see cref="PrivateServer"/>:80 behind a second veth of the host (10.99.0.1/24).</item>
/// <item>guests (<see cref="AddGuestAsync"/>): a veth per guest named as the job's TAP in the host, <c>eth0</c> with the
/// guest's address and MAC in the guest, default route via its gateway, as a VM's TAP and NIC.</item>
/// </list>
/// Every web server answers <c>hello from CLIENT-ADDRESS</c>. Reuse: <c>await using var lab = await NetnsLab.StartAsync();</c>
/// then <c>new GuestNetworkService(lab.Options(), tenants, lab.Host)</c>.
/// </summary>
public sealed class NetnsLab : IAsyncDisposable
{
    public const string Uplink = "up0";
    public static readonly IPAddress HostUplinkAddress = IPAddress.Parse("198.51.100.1");
    public static readonly IPAddress WebServer = IPAddress.Parse("203.0.113.10");
    public static readonly IPAddress DnsServer = IPAddress.Parse("198.51.100.53");
    public static readonly IPAddress Metadata = IPAddress.Parse("169.254.169.254");
    public static readonly IPAddress PrivateServer = IPAddress.Parse("10.99.0.2");
    public static readonly TimeSpan DropWait = TimeSpan.FromSeconds(2);

    private static int _labs;
    private readonly List<string> _namespaces = [];
    private readonly List<Socket> _sockets = [];
    private readonly CancellationTokenSource _stop = new();

    private NetnsLab(string prefix) => Prefix = prefix;

    /// <summary>Null when this host can build the lab (root, ip, nft); otherwise why not.</summary>
    public static string? UnavailableReason =>
        HostFacts.RootUnavailableReason
        ?? (ToolMissing("ip") ? "needs ip from Debian's iproute2 package (apt-get install iproute2)" : null)
        ?? (ToolMissing("nft") ? "needs nft from Debian's nftables package (apt-get install nftables); tests/run.sh installs it" : null);

    public string Prefix { get; }
    public NetworkHost Host => new(Prefix + "h");
    public NetworkHost Internet => new(Prefix + "i");

    /// <summary>Names the internet's DNS server answers (lower case, without the final dot).</summary>
    public Dictionary<string, IPAddress> Names { get; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["forge.test"] = WebServer,
        ["private.test"] = PrivateServer,
    };

    /// <summary>The client addresses each web server saw, by "address:port".</summary>
    public ConcurrentQueue<string> Seen { get; } = new();

    /// <summary>Network options for a service in <see cref="Host"/>: this lab's uplink and DNS server.</summary>
    public NetworkOptions Options(params string[] hostPorts) =>
        new() { Uplink = Uplink, DnsServers = [DnsServer.ToString()], HostPorts = [.. hostPorts] };

    public static async Task<NetnsLab> StartAsync(bool defaultRoute = true)
    {
        var lab = new NetnsLab(string.Create(CultureInfo.InvariantCulture, $"kl{Environment.ProcessId % 100000}x{Interlocked.Increment(ref _labs)}"));
        try
        {
            await lab.BuildAsync(defaultRoute);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private async Task BuildAsync(bool defaultRoute)
    {
        string h = Prefix + "h", i = Prefix + "i", p = Prefix + "p";
        foreach (string ns in (string[])[h, i, p])
        {
            await Ip("netns", "add", ns);
            _namespaces.Add(ns);
            await Ip("-n", ns, "link", "set", "lo", "up");
        }

        await Ip("link", "add", Uplink, "netns", h, "type", "veth", "peer", "name", "wan0", "netns", i);
        await Ip("-n", h, "addr", "add", "198.51.100.1/24", "dev", Uplink);
        await Ip("-n", h, "link", "set", Uplink, "up");
        await Ip("-n", i, "addr", "add", "198.51.100.2/24", "dev", "wan0");
        await Ip("-n", i, "link", "set", "wan0", "up");
        foreach (IPAddress a in (IPAddress[])[WebServer, DnsServer, Metadata])
        {
            await Ip("-n", i, "addr", "add", a + "/32", "dev", "lo");
        }

        if (defaultRoute)
        {
            await Ip("-n", h, "route", "add", "default", "via", "198.51.100.2", "dev", Uplink);
        }
        else
        {
            await Ip("-n", h, "route", "add", "203.0.113.0/24", "via", "198.51.100.2", "dev", Uplink);
        }

        await Ip("link", "add", "pv0", "netns", h, "type", "veth", "peer", "name", "eth0", "netns", p);
        await Ip("-n", h, "addr", "add", "10.99.0.1/24", "dev", "pv0");
        await Ip("-n", h, "link", "set", "pv0", "up");
        await Ip("-n", p, "addr", "add", PrivateServer + "/24", "dev", "eth0");
        await Ip("-n", p, "link", "set", "eth0", "up");
        await Ip("-n", p, "route", "add", "default", "via", "10.99.0.1");

        Serve(Internet, WebServer, 80);
        Serve(Internet, WebServer, 8080);
        Serve(Internet, Metadata, 80);
        Serve(new NetworkHost(p), PrivateServer, 80);
        ServeDns(Internet, DnsServer);
    }

    /// <summary>A guest of job <paramref name="jobId"/>: its namespace and the network the runner gives that job.</summary>
    public async Task<LabGuest> AddGuestAsync(long jobId)
    {
        GuestNetwork net = GuestNetwork.For(jobId);
        string g = Prefix + "g" + jobId.ToString(CultureInfo.InvariantCulture);
        await Ip("netns", "add", g);
        _namespaces.Add(g);
        await Ip("-n", g, "link", "set", "lo", "up");
        await Ip("link", "add", net.TapName, "netns", Prefix + "h", "type", "veth", "peer", "name", "eth0", "netns", g);
        await Ip("-n", Prefix + "h", "addr", "add", $"{net.HostAddress}/{GuestNetwork.PrefixLength}", "dev", net.TapName);
        await Ip("-n", Prefix + "h", "link", "set", net.TapName, "up");
        await Ip("-n", g, "link", "set", "eth0", "address", net.GuestMac);
        await Ip("-n", g, "addr", "add", $"{net.GuestAddress}/{GuestNetwork.PrefixLength}", "dev", "eth0");
        await Ip("-n", g, "link", "set", "eth0", "up");
        await Ip("-n", g, "route", "add", "default", "via", net.HostAddress);
        return new LabGuest(g, net);
    }

    /// <summary>Serves a one-line HTTP answer on <paramref name="address"/>:<paramref name="port"/> in <paramref name="where"/>.</summary>
    public void Serve(NetworkHost where, IPAddress address, int port)
    {
        Socket listener = where.Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(address, port));
        listener.Listen(64);
        _sockets.Add(listener);
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket c;
                try
                {
                    c = await listener.AcceptAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using (c)
                    {
                        string client = ((IPEndPoint)c.RemoteEndPoint!).Address.ToString();
                        Seen.Enqueue($"{address}:{port} {client}");
                        try
                        {
                            byte[] buffer = new byte[4096];
                            await c.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                            await c.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello from {client}\n"), SocketFlags.None, _stop.Token);
                            c.Shutdown(SocketShutdown.Both);
                        }
                        catch (Exception e) when (e is OperationCanceledException or SocketException)
                        {
                        }
                    }
                });
            }
        });
    }

    private void ServeDns(NetworkHost where, IPAddress address)
    {
        Socket udp = where.Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(address, 53));
        _sockets.Add(udp);
        Socket tcp = where.Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        tcp.Bind(new IPEndPoint(address, 53));
        tcp.Listen(16);
        _sockets.Add(tcp);
        _ = Task.Run(async () =>
        {
            byte[] buffer = new byte[1500];
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    SocketReceiveFromResult r = await udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                    await udp.SendToAsync(DnsMessages.Answer(buffer[..r.ReceivedBytes], Names), SocketFlags.None, r.RemoteEndPoint, _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    if (_stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
            }
        });
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using Socket c = await tcp.AcceptAsync(_stop.Token);
                    await using var s = new NetworkStream(c);
                    byte[] query = await DnsMessages.ReadFramedAsync(s, _stop.Token);
                    await DnsMessages.WriteFramedAsync(s, DnsMessages.Answer(query, Names), _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
                {
                    if (_stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Socket s in _sockets)
        {
            s.Dispose();
        }

        foreach (string ns in Enumerable.Reverse(_namespaces))
        {
            await new NetworkHost().RunAsync("ip", ["netns", "del", ns]); // its veths and table go with it
        }

        _stop.Dispose();
    }

    private static Task Ip(params string[] args) => NetworkHost.Root.RunCheckedAsync("ip", args);

    private static bool ToolMissing(string tool) =>
        !new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" }.Any(d => File.Exists(Path.Combine(d, tool)));
}

/// <summary>A guest of the lab: its namespace and network; connects from inside it.</summary>
public sealed record LabGuest(string Namespace, GuestNetwork Net)
{
    public NetworkHost Stack => new(Namespace);

    /// <summary>GET / from the guest: the body, or null when nothing answered within <paramref name="wait"/> (dropped) or it was refused.</summary>
    public async Task<string?> GetAsync(IPAddress address, int port, TimeSpan? wait = null, IPAddress? from = null)
    {
        using Socket s = Stack.Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null)
        {
            s.Bind(new IPEndPoint(from, 0));
        }

        using var timeout = new CancellationTokenSource(wait ?? NetnsLab.DropWait);
        try
        {
            await s.ConnectAsync(new IPEndPoint(address, port), timeout.Token);
            await s.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            var body = new MemoryStream();
            byte[] buffer = new byte[4096];
            int n;
            while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                body.Write(buffer, 0, n);
            }

            string text = Encoding.ASCII.GetString(body.ToArray());
            int start = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return start < 0 ? text : text[(start + 4)..].Trim();
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            return null;
        }
    }

    /// <summary>Asks the guest's gateway for <paramref name="name"/>'s A record (UDP, or TCP); null when nothing answered.</summary>
    public async Task<DnsAnswer?> ResolveAsync(string name, bool tcp = false, TimeSpan? wait = null)
    {
        byte[] query = DnsMessages.Query(name, (ushort)Random.Shared.Next(1, 65535));
        var gateway = new IPEndPoint(IPAddress.Parse(Net.HostAddress), 53);
        using var timeout = new CancellationTokenSource(wait ?? NetnsLab.DropWait);
        try
        {
            using Socket s = Stack.Socket(AddressFamily.InterNetwork, tcp ? SocketType.Stream : SocketType.Dgram, tcp ? ProtocolType.Tcp : ProtocolType.Udp);
            await s.ConnectAsync(gateway, timeout.Token);
            byte[] answer;
            if (tcp)
            {
                await using var stream = new NetworkStream(s);
                await DnsMessages.WriteFramedAsync(stream, query, timeout.Token);
                answer = await DnsMessages.ReadFramedAsync(stream, timeout.Token);
            }
            else
            {
                await s.SendAsync(query, SocketFlags.None, timeout.Token);
                byte[] buffer = new byte[1500];
                answer = buffer[..await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)];
            }

            return DnsMessages.Parse(answer, query);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            return null;
        }
    }

    /// <summary>Runs <c>ip</c> inside the guest (e.g. to spoof its MAC or add an address).</summary>
    public Task IpAsync(params string[] args) => NetworkHost.Root.RunCheckedAsync("ip", ["-n", Namespace, .. args]);
}
