using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Kindling.Vmm.Tests.Api;

/// <summary>
/// Sends raw bytes to the API socket and parses the answer strictly: HttpClient would normalise paths and refuse to
/// send malformed requests, which is exactly what these tests need to send.
/// </summary>
internal static class RawHttp
{
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
    {
        /// <summary>The fault_message of an error answer; fails the test when it has none.</summary>
        public string FaultMessage()
        {
            Assert.True(Status >= 400, $"expected an error status, got {Status}: {Body}");
            Assert.Equal("application/json", Headers.GetValueOrDefault("content-type"));
            using JsonDocument doc = JsonDocument.Parse(Body);
            string message = doc.RootElement.GetProperty("fault_message").GetString()!;
            Assert.False(string.IsNullOrWhiteSpace(message));
            return message;
        }
    }

    public static Task<Response> SendAsync(string socketPath, string request, CancellationToken ct, bool head = false) =>
        SendAsync(socketPath, Encoding.UTF8.GetBytes(request), ct, head);

    /// <summary>Sends <paramref name="request"/> on a new connection and reads one response.</summary>
    public static async Task<Response> SendAsync(string socketPath, byte[] request, CancellationToken ct, bool head = false)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            await stream.WriteAsync(request, ct);
        }
        catch (IOException)
        {
            // The server may answer and close before it read everything (a refused head); read its answer anyway.
        }

        return await ReadResponseAsync(stream, head, ct);
    }

    /// <summary>Reads one response: status line, headers, and a body of exactly Content-Length bytes.</summary>
    public static async Task<Response> ReadResponseAsync(Stream stream, bool head, CancellationToken ct)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (!EndsWithBlankLine(buffer))
        {
            int n = await stream.ReadAsync(one, ct);
            Assert.True(n == 1, "the connection closed before a complete response head: " + Encoding.ASCII.GetString([.. buffer]));
            buffer.Add(one[0]);
            Assert.True(buffer.Count < 64 * 1024, "response head too long");
        }

        string[] lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] statusLine = lines[0].Split(' ', 3);
        Assert.Equal("HTTP/1.1", statusLine[0]);
        int status = int.Parse(statusLine[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            Assert.True(colon > 0, $"malformed response header: {line}");
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }

        if (status is 100)
        {
            return await ReadResponseAsync(stream, head, ct);
        }

        if (status == 204 || head)
        {
            Assert.False(status == 204 && headers.ContainsKey("content-length"), "a 204 must not carry Content-Length");
            return new Response(status, headers, "");
        }

        Assert.True(headers.TryGetValue("content-length", out string? lengthText), $"status {status} without Content-Length");
        int length = int.Parse(lengthText, System.Globalization.CultureInfo.InvariantCulture);
        byte[] body = new byte[length];
        await stream.ReadExactlyAsync(body, ct);
        return new Response(status, headers, Encoding.UTF8.GetString(body));
    }

    private static bool EndsWithBlankLine(List<byte> b) =>
        b.Count >= 4 && b[^4] == '\r' && b[^3] == '\n' && b[^2] == '\r' && b[^1] == '\n';
}
