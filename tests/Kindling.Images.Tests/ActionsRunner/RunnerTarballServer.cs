using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kindling.Images.Tests.ActionsRunner;

/// <summary>
/// A small HTTP/1.1 file server on 127.0.0.1 for the runner download tests: it serves one file at <see cref="Path"/>
/// (404 elsewhere), honours <c>Range: bytes=N-</c> as a real server does (206 with Content-Range, 416 past the end),
/// can ignore Range (200 with the whole file), and can cut the connection mid-body for its first
/// <see cref="CutsLeft"/> responses. It records every request's path and Range header.
/// </summary>
internal sealed class RunnerTarballServer : IAsyncDisposable
{
    public const string Path = "/download/actions-runner-linux-x64-2.999.0.tar.gz";

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public RunnerTarballServer(byte[] content)
    {
        Content = content;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public byte[] Content { get; set; }

    /// <summary>Answer every request with 200 and the whole file, as a server without Range support does.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>How many more responses are cut off after <see cref="CutAtOffset"/> bytes of the file.</summary>
    public int CutsLeft { get; set; }

    /// <summary>The file offset at which a cut response stops (a response starting past it is cut after one buffer).</summary>
    public long CutAtOffset { get; set; }

    /// <summary>The status every request gets instead of the file (e.g. 404), when set.</summary>
    public HttpStatusCode? FixedStatus { get; set; }

    public ConcurrentQueue<(string Path, string? Range)> Requests { get; } = new();

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{Path}");

    /// <summary>The URL pattern with <c>{Version}</c>, as configured in Kindling:Images:ActionsRunner:Url.</summary>
    public string UrlPattern => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/download/actions-runner-linux-x64-{{Version}}.tar.gz";

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                string head = await ReadHeadAsync(stream);
                string[] lines = head.Split("\r\n");
                string path = lines[0].Split(' ')[1];
                string? range = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Range", StringComparison.OrdinalIgnoreCase))
                    .Select(p => p[1].Trim()).FirstOrDefault();
                Requests.Enqueue((path, range));
                if (path != Path || FixedStatus is not null)
                {
                    HttpStatusCode status = FixedStatus ?? HttpStatusCode.NotFound;
                    await WriteAsync(stream, $"HTTP/1.1 {(int)status} {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                }

                long start = 0;
                string statusLine = "200 OK";
                string extra = "";
                if (range is not null && !IgnoreRange)
                {
                    if (!range.StartsWith("bytes=", StringComparison.Ordinal) || !range.EndsWith('-') || !long.TryParse(range[6..^1], out start))
                    {
                        throw new InvalidOperationException($"the fetcher sent a Range this server does not parse: {range}");
                    }

                    if (start >= Content.Length)
                    {
                        await WriteAsync(stream, $"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{Content.Length}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }

                    statusLine = "206 Partial Content";
                    extra = $"Content-Range: bytes {start}-{Content.Length - 1}/{Content.Length}\r\n";
                }

                await WriteAsync(stream, $"HTTP/1.1 {statusLine}\r\nContent-Type: application/gzip\r\nContent-Length: {Content.Length - start}\r\n{extra}Connection: close\r\n\r\n");
                long end = Content.Length;
                if (CutsLeft > 0)
                {
                    CutsLeft--;
                    end = Math.Max(CutAtOffset, start + 4096);
                }

                await stream.WriteAsync(Content.AsMemory((int)start, (int)(Math.Min(end, Content.Length) - start)));
                await stream.FlushAsync();
                // A cut response just closes: the client has every byte sent so far and then the end of the stream,
                // short of the Content-Length it was promised (a reset could also drop bytes it had not read yet).
            }
            catch (IOException)
            {
                // the client went away
            }
        }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        StringBuilder head = new();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0)
            {
                throw new IOException("request ended before its headers");
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private static Task WriteAsync(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
