using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;

namespace Kindling.Vmm.Tests.Api;

/// <summary>
/// A property-based mutation fuzzer over every endpoint (issue 18): valid Firecracker requests are mutated at the
/// HTTP level (method, path, version, headers, framing, raw bytes) and in their JSON bodies (tokens, lone
/// surrogates, duplicate keys, deletions), and sent to a real API server on a Unix socket with the real controller
/// (the VM not started; InstanceStart is refused by the backend). Every answer must be well-formed HTTP/1.1, never
/// a 500, with a fault_message on every error; the server must answer GET / afterwards.
/// KINDLING_FUZZ_REQUESTS raises the number of requests for a longer run.
/// </summary>
public sealed class ApiFuzzTests
{
    private const int DefaultRequests = 10_000;

    /// <summary>Requests sent at once per property case: hides the scheduling latency of a loaded machine.</summary>
    private const int Concurrency = 4;

    private static readonly (string Method, string Path, string? Body)[] Seeds =
    [
        ("GET", "/", null),
        ("GET", "/version", null),
        ("GET", "/vm/config", null),
        ("GET", "/machine-config", null),
        ("GET", "/mmds", null),
        ("PUT", "/boot-source", FirecrackerExamples.BootSource),
        ("PUT", "/machine-config", FirecrackerExamples.MachineConfig),
        ("PATCH", "/machine-config", """{"vcpu_count":2,"smt":false}"""),
        ("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive),
        ("PATCH", "/drives/rootfs", """{"drive_id":"rootfs","path_on_host":"/r2.ext4"}"""),
        ("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface),
        ("PATCH", "/network-interfaces/eth0", """{"iface_id":"eth0","rx_rate_limiter":{"bandwidth":{"size":1000,"refill_time":100}}}"""),
        ("PUT", "/vsock", FirecrackerExamples.Vsock),
        ("PUT", "/entropy", FirecrackerExamples.Entropy),
        ("PUT", "/logger", FirecrackerExamples.Logger),
        ("PUT", "/metrics", FirecrackerExamples.Metrics),
        ("PUT", "/serial", FirecrackerExamples.Serial),
        ("PUT", "/mmds/config", FirecrackerExamples.MmdsConfig),
        ("PUT", "/mmds", FirecrackerExamples.MmdsData),
        ("PATCH", "/mmds", """{"latest":{"meta-data":{"ami-id":"ami-1","script":"make 2>&1 && echo '<ok>'"}}}"""),
        ("PUT", "/actions", """{"action_type":"InstanceStart"}"""),
        ("PUT", "/actions", """{"action_type":"FlushMetrics"}"""),
        ("PUT", "/actions", """{"action_type":"SendCtrlAltDel"}"""),
        ("PATCH", "/vm", """{"state":"Paused"}"""),
        ("PUT", "/balloon", """{"amount_mib":64,"deflate_on_oom":true}"""),
    ];

    private static readonly string[] BodyTokens =
    [
        "\0", "\"", "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "é", "😀",
        "null", "1e999", "-0", "99999999999999999999", "true", "\"x\"", "{}", "[]", "\r\n", " ", "/*c*/", "\"\\u0041\"",
    ];

    private static readonly string[] PathTokens =
    [
        "..", ".", "%2e%2e", "%2E", "%00", "%2F", "", "a-b", "a.b", new string('x', 100), "?x=1", "#f", "é", "\0", " ",
        "drives", "machine-config", "mmds", "config", "rootfs", "eth0", "\u0001",
    ];

    private static readonly string[] Methods = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "POST", "OPTIONS", "get", "", "G\tT", "PUT PUT"];

    private static readonly string[] Versions = ["HTTP/1.0", "HTTP/2", "HTTP/1.1x", "", "http/1.1", "HTTP/1.1 "];

    private static readonly string[] ExtraHeaders =
    [
        "Expect: 100-continue", "Expect: magic", "Host: a", "Host:", "NoColon", ": empty", "X-Ctl: a\u0001b",
        "Connection: close", "Connection: keep-alive", "Transfer-Encoding: gzip", "Content-Length: 0",
        "X-Long: " + new string('l', 40_000), " Folded: x", "Content-Type: text/plain",
    ];

    private static readonly string[] BadChunkSizes = ["fffffffff", "zz", "-1", "", "1;", "0x10", "ffffffffffffffffffff"];

    private static readonly string[] BadLengths = ["abc", "-1", "", " 5", "1e3", "99999999999999999999", "0x10", "1,2"];

    [Fact]
    public async Task Fuzz_MutatedRequestsToEveryEndpoint_EveryAnswerIsWellFormedAndTheServerStaysUp()
    {
        int requests = int.TryParse(Environment.GetEnvironmentVariable("KINDLING_FUZZ_REQUESTS"), CultureInfo.InvariantCulture, out int n) ? n : DefaultRequests;
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        host.Backend.RefuseStartWith = "the fuzzer's backend does not start guests";
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        int sent = 0;
        var clock = Stopwatch.StartNew();

        Gen<FuzzCase> cases =
            from seed in Gen.Choose(0, Seeds.Length - 1)
            from mutations in Gen.ListOf(Gen.Zip(Gen.Choose(0, 11), Gen.Choose(0, 1 << 20), (kind, value) => new Mutation(kind, value)))
            select new FuzzCase(seed, [.. mutations.Take(6)]);

        Prop.ForAll(Arb.From(Gen.ArrayOf(cases, Concurrency)), batch =>
        {
            Task.WhenAll(batch.Select(async fuzzCase =>
            {
                byte[] request = fuzzCase.Build();
                RawHttp.Response response = await SendAsync(host.SocketPath, request);
                Interlocked.Increment(ref sent);
                statuses.AddOrUpdate(response.Status, 1, (_, count) => count + 1);
                CheckAnswer(fuzzCase, request, response);
            })).GetAwaiter().GetResult();
            return true;
        }).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest((requests + Concurrency - 1) / Concurrency).WithQuietOnSuccess(true));

        Assert.True(sent >= requests, $"only {sent} requests were sent");
        Assert.Equal(200, (await RawHttp.SendAsync(host.SocketPath, "GET / HTTP/1.1\r\n\r\n", TestContext.Current.CancellationToken)).Status);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{sent} requests in {clock.Elapsed.TotalSeconds:F1} s; statuses: {string.Join(", ", statuses.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}×{kv.Value}"))}");
    }

    private static void CheckAnswer(FuzzCase fuzzCase, byte[] request, RawHttp.Response response)
    {
        string shown = Encoding.Latin1.GetString(request[..Math.Min(request.Length, 300)]);
        Assert.True(response.Status != 500, $"internal error for {fuzzCase}: {response.Body}\nrequest: {shown}");
        Assert.True(response.Status is 200 or 204 or (>= 400 and < 600), $"unexpected status {response.Status}\nrequest: {shown}");
        if (IsHead(request))
        {
            return;
        }

        if (response.Status >= 400)
        {
            response.FaultMessage();
        }
        else if (response.Status == 200)
        {
            using JsonDocument _ = JsonDocument.Parse(response.Body);
        }
    }

    private static bool IsHead(byte[] request) => request.AsSpan().StartsWith("HEAD "u8);

    /// <summary>One request on a new connection; the write side is closed so that a short body ends instead of hanging.</summary>
    private static async Task<RawHttp.Response> SendAsync(string socketPath, byte[] request)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            await stream.WriteAsync(request, timeout.Token);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (IOException)
        {
            // Refused and closed before it read everything: its answer is still there to read.
        }

        return await RawHttp.ReadResponseAsync(stream, IsHead(request), timeout.Token);
    }

    public sealed record Mutation(int Kind, int Value);

    public sealed record FuzzCase(int Seed, Mutation[] Mutations)
    {
        public override string ToString() =>
            $"{Seeds[Seed].Method} {Seeds[Seed].Path} with [{string.Join(", ", Mutations.Select(m => $"{m.Kind}:{m.Value}"))}]";

        /// <summary>The request bytes: the seed, mutated step by step.</summary>
        public byte[] Build()
        {
            (string method, string path, string? seedBody) = Seeds[Seed];
            string version = "HTTP/1.1";
            string body = seedBody ?? "";
            var headers = new List<string> { "Host: localhost" };
            string? badLength = null;
            int? lengthDelta = null;
            string? badChunk = null;
            bool chunked = false;
            var flips = new List<(int Position, byte Value)>();
            foreach (Mutation m in Mutations)
            {
                int v = m.Value;
                switch (m.Kind)
                {
                    case 0: body = Replace(body, v, BodyTokens[v % BodyTokens.Length]); break;
                    case 1: body = body.Insert(v % (body.Length + 1), BodyTokens[(v >> 8) % BodyTokens.Length]); break;
                    case 2: body = Delete(body, v); break;
                    case 3: body = DuplicateFirstKey(body); break;
                    case 4: path = MutatePath(path, v); break;
                    case 5: method = Methods[v % Methods.Length]; break;
                    case 6:
                        if ((v & 1) == 0)
                        {
                            badLength = BadLengths[(v >> 1) % BadLengths.Length];
                        }
                        else
                        {
                            lengthDelta = (v >> 1) % 7 - 3;
                        }

                        break;
                    case 7: chunked = true; badChunk = (v & 3) == 0 ? BadChunkSizes[(v >> 2) % BadChunkSizes.Length] : null; break;
                    case 8: headers.Add(ExtraHeaders[v % ExtraHeaders.Length]); break;
                    case 9: version = Versions[v % Versions.Length]; break;
                    case 10: flips.Add((v >> 8, (byte)v)); break;
                    default: body = new string('[', 60 + v % 20) + body + new string(']', 60 + (v >> 8) % 20); break;
                }
            }

            byte[] bodyBytes = Encoding.UTF8.GetBytes(body);
            var head = new StringBuilder().Append(method).Append(' ').Append(path).Append(' ').Append(version).Append("\r\n");
            foreach (string header in headers)
            {
                head.Append(header).Append("\r\n");
            }

            byte[] framed;
            if (chunked)
            {
                head.Append("Transfer-Encoding: chunked\r\n\r\n");
                int half = bodyBytes.Length / 2;
                byte[][] parts = [bodyBytes[..half], bodyBytes[half..]];
                var output = new List<byte>(Encoding.Latin1.GetBytes(head.ToString()));
                foreach (byte[] part in parts.Where(p => p.Length > 0))
                {
                    output.AddRange(Encoding.ASCII.GetBytes((badChunk ?? part.Length.ToString("x", CultureInfo.InvariantCulture)) + "\r\n"));
                    output.AddRange(part);
                    output.AddRange("\r\n"u8.ToArray());
                }

                output.AddRange("0\r\n\r\n"u8.ToArray());
                framed = [.. output];
            }
            else
            {
                string lengthValue = badLength ?? Math.Max(0, bodyBytes.Length + (lengthDelta ?? 0)).ToString(CultureInfo.InvariantCulture);
                if (bodyBytes.Length > 0 || badLength is not null || lengthDelta is not null)
                {
                    head.Append("Content-Length: ").Append(lengthValue).Append("\r\n");
                }

                head.Append("\r\n");
                framed = [.. Encoding.Latin1.GetBytes(head.ToString()), .. bodyBytes];
            }

            foreach ((int position, byte value) in flips)
            {
                framed[position % framed.Length] = value;
            }

            return framed;
        }

        private static string Replace(string text, int v, string token)
        {
            if (text.Length == 0)
            {
                return token;
            }

            int at = v % text.Length;
            return text[..at] + token + text[(at + 1)..];
        }

        private static string Delete(string text, int v)
        {
            if (text.Length == 0)
            {
                return text;
            }

            int at = v % text.Length;
            int length = Math.Min(text.Length - at, 1 + (v >> 10) % 16);
            return text.Remove(at, length);
        }

        /// <summary>Repeats the first key of the first object right after its opening brace.</summary>
        private static string DuplicateFirstKey(string text)
        {
            int brace = text.IndexOf('{', StringComparison.Ordinal);
            int quote = brace < 0 ? -1 : text.IndexOf('"', brace);
            int end = quote < 0 ? -1 : text.IndexOf('"', quote + 1);
            return end < 0 ? text : text.Insert(brace + 1, text[quote..(end + 1)] + ":0,");
        }

        private static string MutatePath(string path, int v)
        {
            string[] segments = path.Split('/');
            int at = 1 + v % Math.Max(1, segments.Length - 1);
            string token = PathTokens[(v >> 8) % PathTokens.Length];
            List<string> list = [.. segments];
            if (((v >> 16) & 1) == 0 && at < list.Count)
            {
                list[at] = token;
            }
            else
            {
                list.Insert(Math.Min(at, list.Count), token);
            }

            return string.Join('/', list);
        }
    }
}
