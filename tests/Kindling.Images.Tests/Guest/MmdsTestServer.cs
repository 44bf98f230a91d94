using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Kindling.Images.Tests.Guest;

/// <summary>
/// A minimal MMDS V2 endpoint with Firecracker's semantics, for running the agent outside a VM:
/// <c>PUT /latest/api/token</c> with <c>X-metadata-token-ttl-seconds</c> (1..21600) returns a token;
/// <c>GET</c> with a valid <c>X-metadata-token</c> returns IMDS text (an object lists its keys, objects with a
/// trailing '/'; a string is its value; 404 when absent); a missing, unknown or expired token gets 401. Each
/// response closes the connection.
/// </summary>
internal sealed class MmdsTestServer : IAsyncDisposable
{
    public const int MaxTtlSeconds = 21600;

    private readonly Socket _listener;
    private readonly JsonNode _tree;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly Task _loop;
    private readonly object _gate = new();

    public MmdsTestServer(Socket listener, JsonNode tree)
    {
        _listener = listener;
        _tree = tree;
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>
    /// As the runner's <c>PATCH /mmds</c> for one string: sets (or, with null, removes) the value at
    /// <paramref name="path"/> (<c>kindling/steps/1</c>), creating the objects above it.
    /// </summary>
    public void Set(string path, string? value)
    {
        lock (_gate)
        {
            string[] parts = path.Split('/');
            JsonObject node = _tree.AsObject();
            foreach (string part in parts[..^1])
            {
                node = node[part] as JsonObject ?? (JsonObject)(node[part] = new JsonObject());
            }

            if (value is null)
            {
                node.Remove(parts[^1]);
            }
            else
            {
                node[parts[^1]] = value;
            }
        }
    }

    /// <summary>A copy of <see cref="Requests"/>, safe while the server answers.</summary>
    public string[] RequestsSeen()
    {
        lock (_gate)
        {
            return [.. Requests];
        }
    }

    /// <summary>Forgets every token issued so far, as a new VMM (a restored clone's) does not know its golden VMM's tokens.</summary>
    public void ForgetTokens()
    {
        lock (_gate)
        {
            _tokens.Clear();
        }
    }

    /// <summary>When true every GET is answered 401, as for a token the VMM does not know.</summary>
    public bool RejectAllTokens { get; init; }

    /// <summary>Requests seen, "METHOD PATH token=…" (for assertions).</summary>
    public List<string> Requests { get; } = [];

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket c;
            try
            {
                c = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(c));
        }
    }

    private async Task ServeAsync(Socket c)
    {
        using (c)
        {
            byte[] buf = new byte[8192];
            int n = 0;
            while (n < buf.Length)
            {
                int r = await c.ReceiveAsync(buf.AsMemory(n), _stop.Token);
                if (r == 0)
                {
                    break;
                }

                n += r;
                if (Encoding.ASCII.GetString(buf, 0, n).Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    break;
                }
            }

            string[] lines = Encoding.ASCII.GetString(buf, 0, n).Split("\r\n");
            string[] start = lines[0].Split(' ');
            Dictionary<string, string> headers = new(StringComparer.OrdinalIgnoreCase);
            foreach (string l in lines.Skip(1).TakeWhile(l => l.Length > 0))
            {
                int colon = l.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    headers[l[..colon].Trim()] = l[(colon + 1)..].Trim();
                }
            }

            (int status, string body) = start.Length == 3 ? Handle(start[0], start[1], headers) : (400, "");
            byte[] b = Encoding.UTF8.GetBytes(body);
            string reason = status switch { 200 => "OK", 400 => "Bad Request", 401 => "Unauthorized", 404 => "Not Found", _ => "Method Not Allowed" };
            byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {b.Length}\r\nConnection: close\r\n\r\n");
            await c.SendAsync(head.Concat(b).ToArray(), _stop.Token);
            c.Shutdown(SocketShutdown.Both);
        }
    }

    private (int Status, string Body) Handle(string method, string path, Dictionary<string, string> headers)
    {
        lock (_gate)
        {
            Requests.Add($"{method} {path} token={(headers.TryGetValue("X-metadata-token", out string? t) ? t : "-")}");
            if (method == "PUT" && path == "/latest/api/token")
            {
                if (!headers.TryGetValue("X-metadata-token-ttl-seconds", out string? ttlText) || !int.TryParse(ttlText, out int ttl) || ttl < 1 || ttl > MaxTtlSeconds)
                {
                    return (400, "");
                }

                string token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
                _tokens[token] = DateTimeOffset.UtcNow.AddSeconds(ttl);
                return (200, token);
            }

            if (method != "GET")
            {
                return (405, "");
            }

            if (RejectAllTokens || !headers.TryGetValue("X-metadata-token", out string? given)
                || !_tokens.TryGetValue(given, out DateTimeOffset expiry) || expiry < DateTimeOffset.UtcNow)
            {
                return (401, "");
            }

            JsonNode? node = _tree;
            foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                node = node is JsonObject o && o.TryGetPropertyValue(part, out JsonNode? child) ? child : null;
                if (node is null)
                {
                    return (404, "");
                }
            }

            return node is JsonObject obj
                ? (200, string.Join('\n', obj.Select(kv => kv.Key + (kv.Value is JsonObject ? "/" : ""))))
                : (200, node!.GetValue<string>());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
