using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Kindling.Runner.Network;

/// <summary>
/// The resolver guests reach at their gateway: UDP and TCP port 53 on each VM's gateway address, each query passed
/// on unchanged to the upstream resolvers in order (the next one on a timeout or error) and the answer relayed back;
/// SERVFAIL when none answers. Each query goes out from a fresh socket (a random source port), and an answer must
/// carry the query's id. Bounded: at most <see cref="MaxUdpInFlight"/> UDP queries and <see cref="MaxTcpClients"/> TCP
/// connections per gateway; more are dropped, as a busy resolver drops them.
/// </summary>
public sealed class DnsForwarder(NetworkHost host, IReadOnlyList<IPEndPoint> upstreams, TimeSpan? upstreamTimeout = null) : IAsyncDisposable
{
    public const int Port = 53;
    public const int MaxUdpInFlight = 64;
    public const int MaxTcpClients = 16;
    private const int MaxMessage = 65535;
    private const int HeaderBytes = 12;
    private const byte FlagResponse = 0x80;
    private const byte RcodeServFail = 2;
    private static readonly TimeSpan TcpIdle = TimeSpan.FromSeconds(10);

    private readonly TimeSpan _timeout = upstreamTimeout ?? TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<IPAddress, Listener> _listeners = new();

    public IReadOnlyList<IPEndPoint> Upstreams => upstreams;

    /// <summary>Starts answering on <paramref name="gateway"/>:53 (UDP and TCP); the address must exist on this host.</summary>
    public void Listen(IPAddress gateway)
    {
        if (_listeners.ContainsKey(gateway))
        {
            return;
        }

        var endpoint = new IPEndPoint(gateway, Port);
#pragma warning disable CA2000 // disposed on a failed bind below, else owned by the Listener until Stop
        Socket udp = host.Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Socket tcp = host.Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
#pragma warning restore CA2000
        try
        {
            udp.Bind(endpoint);
            tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            tcp.Bind(endpoint);
            tcp.Listen(MaxTcpClients);
        }
        catch (SocketException e)
        {
            udp.Dispose();
            tcp.Dispose();
            throw new NetworkSetupException(e.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? $"the guest DNS forwarder cannot listen on {gateway}:53: another DNS server holds port 53 on every address; bind it to its own addresses only (e.g. dnsmasq's bind-interfaces)"
                : $"the guest DNS forwarder cannot listen on {gateway}:53: {e.Message}", e);
        }

        var listener = new Listener(udp, tcp);
        _listeners[gateway] = listener;
        listener.Tasks = [Task.Run(() => ServeUdpAsync(listener)), Task.Run(() => ServeTcpAsync(listener))];
    }

    /// <summary>Stops answering on <paramref name="gateway"/> (nothing happens when it was not listening).</summary>
    public async Task StopAsync(IPAddress gateway)
    {
        if (_listeners.TryRemove(gateway, out Listener? l))
        {
            await l.DisposeAsync();
        }
    }

    public bool IsListening(IPAddress gateway) => _listeners.ContainsKey(gateway);

    public async ValueTask DisposeAsync()
    {
        foreach (IPAddress a in _listeners.Keys)
        {
            await StopAsync(a);
        }
    }

    private async Task ServeUdpAsync(Listener l)
    {
        byte[] buffer = new byte[MaxMessage];
        using var slots = new SemaphoreSlim(MaxUdpInFlight);
        while (!l.Stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await l.Udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), l.Stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (l.Stop.IsCancellationRequested)
                {
                    return;
                }

                continue; // e.g. ICMP unreachable from an earlier answer's client
            }

            if (r.ReceivedBytes < HeaderBytes || !slots.Wait(0))
            {
                continue;
            }

            byte[] query = buffer[..r.ReceivedBytes];
            EndPoint client = r.RemoteEndPoint;
            _ = Task.Run(async () =>
            {
                try
                {
                    byte[] answer = await AskUdpAsync(query, l.Stop.Token) ?? ServFail(query);
                    await l.Udp.SendToAsync(answer, SocketFlags.None, client, l.Stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                }
                finally
                {
                    slots.Release();
                }
            });
        }
    }

    private async Task<byte[]?> AskUdpAsync(byte[] query, CancellationToken ct)
    {
        byte[] buffer = new byte[MaxMessage];
        foreach (IPEndPoint upstream in upstreams)
        {
#pragma warning disable CA2000 // a using declaration: the analyzer misreads it inside an async loop
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
#pragma warning restore CA2000
            timeout.CancelAfter(_timeout);
            try
            {
                using Socket s = host.Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                await s.ConnectAsync(upstream, timeout.Token);
                await s.SendAsync(query, SocketFlags.None, timeout.Token);
                while (true)
                {
                    int n = await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (n >= HeaderBytes && buffer[0] == query[0] && buffer[1] == query[1])
                    {
                        return buffer[..n];
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException && !ct.IsCancellationRequested)
            {
                // this upstream is slow or down: the next one
            }
        }

        return null;
    }

    private async Task ServeTcpAsync(Listener l)
    {
        using var slots = new SemaphoreSlim(MaxTcpClients);
        while (!l.Stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await l.Tcp.AcceptAsync(l.Stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (l.Stop.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            if (!slots.Wait(0))
            {
                client.Dispose();
                continue;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await ServeTcpClientAsync(client, l.Stop.Token);
                    }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
                    {
                    }
                    finally
                    {
                        slots.Release();
                    }
                }
            });
        }
    }

    private async Task ServeTcpClientAsync(Socket client, CancellationToken ct)
    {
        await using var stream = new NetworkStream(client, ownsSocket: false);
        while (true)
        {
#pragma warning disable CA2000 // a using declaration: the analyzer misreads it inside an async loop
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
#pragma warning restore CA2000
            idle.CancelAfter(TcpIdle);
            byte[]? query = await ReadFramedAsync(stream, idle.Token);
            if (query is null || query.Length < HeaderBytes)
            {
                return;
            }

            byte[] answer = await AskTcpAsync(query, ct) ?? ServFail(query);
            await WriteFramedAsync(stream, answer, ct);
        }
    }

    private async Task<byte[]?> AskTcpAsync(byte[] query, CancellationToken ct)
    {
        foreach (IPEndPoint upstream in upstreams)
        {
#pragma warning disable CA2000 // a using declaration: the analyzer misreads it inside an async loop
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
#pragma warning restore CA2000
            timeout.CancelAfter(_timeout);
            try
            {
                using Socket s = host.Socket(upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(upstream, timeout.Token);
                await using var stream = new NetworkStream(s, ownsSocket: false);
                await WriteFramedAsync(stream, query, timeout.Token);
                if (await ReadFramedAsync(stream, timeout.Token) is { Length: >= HeaderBytes } answer && answer[0] == query[0] && answer[1] == query[1])
                {
                    return answer;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException && !ct.IsCancellationRequested)
            {
            }
        }

        return null;
    }

    /// <summary>One DNS-over-TCP message (RFC 1035 4.2.2: a two-byte length first); null at the end of the stream.</summary>
    internal static async Task<byte[]?> ReadFramedAsync(Stream s, CancellationToken ct)
    {
        byte[] length = new byte[2];
        try
        {
            await s.ReadExactlyAsync(length, ct);
            byte[] message = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
            await s.ReadExactlyAsync(message, ct);
            return message;
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    internal static async Task WriteFramedAsync(Stream s, byte[] message, CancellationToken ct)
    {
        byte[] framed = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        await s.WriteAsync(framed, ct);
    }

    /// <summary>The query's header turned into an answer with RCODE SERVFAIL and no records.</summary>
    internal static byte[] ServFail(byte[] query)
    {
        byte[] a = query[..HeaderBytes];
        a[2] = (byte)(a[2] | FlagResponse);
        a[3] = (byte)((a[3] & 0xF0) | RcodeServFail);
        a.AsSpan(4, 8).Clear(); // no question echoed, no records
        return a;
    }

    private sealed class Listener(Socket udp, Socket tcp) : IAsyncDisposable
    {
        public Socket Udp { get; } = udp;
        public Socket Tcp { get; } = tcp;
        public CancellationTokenSource Stop { get; } = new();
        public Task[] Tasks { get; set; } = [];

        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            Udp.Dispose();
            Tcp.Dispose();
            await Task.WhenAll(Tasks);
            Stop.Dispose();
        }
    }
}
