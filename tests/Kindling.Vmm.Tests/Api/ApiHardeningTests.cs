using System.Net;
using System.Text;
using System.Text.Json;

namespace Kindling.Vmm.Tests.Api;

/// <summary>Hostile and careless requests (issue 18): each is refused with a fault_message; the server stays up.</summary>
public sealed class ApiHardeningTests
{
    private static readonly JsonSerializerOptions RelaxedEscaping =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Put(string path, string body) =>
        $"PUT {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";

    [Theory]
    [InlineData("PATCH", """{"b":1,"b":2}""")]
    [InlineData("PUT", """{"b":1,"b":2}""")]
    [InlineData("PUT", """{"latest":{"meta-data":{"x":1,"x":{"y":2}}}}""")]
    [InlineData("PATCH", """{"latest":[{"k":1,"k":1}]}""")]
    public async Task Mmds_DuplicateKey_Answers400NamingTheKeyAndKeepsTheStore(string method, string body)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/mmds", FirecrackerExamples.MmdsData);
        string before = await host.GetJsonAsync("/mmds");

        string fault = await host.FaultAsync(method, "/mmds", body);

        Assert.Contains("appears twice", fault, StringComparison.Ordinal);
        Assert.Equal(before, await host.GetJsonAsync("/mmds"));
        await host.OkAsync("PATCH", "/mmds", """{"after":1}""");
    }

    [Theory]
    [InlineData("""{"k":"\ud800"}""")]
    [InlineData("""{"\udc00":"v"}""")]
    [InlineData("""{"a":{"b":["ok","x\ud800y"]}}""")]
    public async Task Mmds_LoneSurrogate_Answers400AndServerStaysUp(string body)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string putFault = await host.FaultAsync("PUT", "/mmds", body);
        string patchFault = await host.FaultAsync("PATCH", "/mmds", body);

        Assert.Contains("not valid Unicode", putFault, StringComparison.Ordinal);
        Assert.Contains("not valid Unicode", patchFault, StringComparison.Ordinal);
        Assert.Equal("{}", (await host.GetJsonAsync("/mmds")).Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PutMmds_ShellTextAtTheLimit_CountsItsOwnBytes()
    {
        // 2>&1, && and quotes: 1 byte each in the data, 6 each in .NET's default escaping.
        string script = string.Concat(Enumerable.Repeat("make 2>&1 && echo '<ok>' + é\n", 40));
        string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["script"] = script }, RelaxedEscaping);
        int ownBytes = Encoding.UTF8.GetByteCount(body);
        await using ApiTestHost exact = await ApiTestHost.StartAsync(mmdsSizeLimit: ownBytes);
        await using ApiTestHost oneShort = await ApiTestHost.StartAsync(mmdsSizeLimit: ownBytes - 1);

        await exact.OkAsync("PUT", "/mmds", body);
        string fault = await oneShort.FaultAsync("PUT", "/mmds", body);

        Assert.Contains($"{ownBytes} bytes", fault, StringComparison.Ordinal);
        Assert.Equal(body, await exact.GetJsonAsync("/mmds"));
    }

    [Theory]
    [InlineData("/metrics", """{"metrics_path":"/x/m\u0000x"}""", "metrics.metrics_path")]
    [InlineData("/serial", """{"serial_out_path":"/x/s\u0000"}""", "serial.serial_out_path")]
    [InlineData("/logger", """{"log_path":"\u0000/l"}""", "logger.log_path")]
    [InlineData("/boot-source", """{"kernel_image_path":"/k\u0000"}""", "boot-source.kernel_image_path")]
    [InlineData("/boot-source", """{"kernel_image_path":"/k","initrd_path":"/i\u0000"}""", "boot-source.initrd_path")]
    [InlineData("/drives/d", """{"drive_id":"d","path_on_host":"/d\u0000","is_root_device":false}""", "drives[d].path_on_host")]
    [InlineData("/vsock", """{"guest_cid":3,"uds_path":"/v\u0000"}""", "vsock.uds_path")]
    public async Task Put_PathWithNul_Answers400NamingTheField(string path, string body, string field)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        string before = await host.GetJsonAsync("/vm/config");

        string fault = await host.FaultAsync("PUT", path, body);

        Assert.Contains(field, fault, StringComparison.Ordinal);
        Assert.Contains("NUL", fault, StringComparison.Ordinal);
        Assert.Equal(before, await host.GetJsonAsync("/vm/config"));
    }

    [Theory]
    [InlineData("/drives/../machine-config")]
    [InlineData("/drives/%2e%2e/machine-config")]
    [InlineData("/drives/%2E%2E/machine-config")]
    [InlineData("/drives/./../machine-config")]
    [InlineData("/network-interfaces/../machine-config")]
    [InlineData("/machine-config/.")]
    public async Task Put_DotSegments_NeverReachAnotherResource(string path)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        string before = await host.GetJsonAsync("/machine-config");

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath, Put(path, """{"vcpu_count":4,"mem_size_mib":512}"""), Ct);

        Assert.True(response.Status is 400 or 404, $"{path}: {response.Status} {response.Body}");
        Assert.False(string.IsNullOrWhiteSpace(response.FaultMessage()));
        Assert.Equal(before, await host.GetJsonAsync("/machine-config"));
    }

    [Theory]
    [InlineData("/drives/root-fs", "drive_id")]
    [InlineData("/drives/r.fs", "drive_id")]
    [InlineData("/network-interfaces/eth-0", "iface_id")]
    public async Task Put_IdOutsideFirecrackersAlphabet_Answers400NamingTheId(string path, string field)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        string id = path.Split('/')[2];
        string body = field == "drive_id"
            ? $$"""{"drive_id":"{{id}}","path_on_host":"/d","is_root_device":false}"""
            : $$"""{"iface_id":"{{id}}","host_dev_name":"tap0"}""";

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath, Put(path, body), Ct);

        Assert.Equal(400, response.Status);
        Assert.Contains(field, response.FaultMessage(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, int, string> ServerLevelRefusals() => new()
    {
        // name, raw request, expected status, text the fault_message contains
        { "NUL in path", "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "path" },
        { "raw NUL in path", "GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request" },
        { "414", $"GET /{new string('a', 9000)} HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request line" },
        { "431", $"GET / HTTP/1.1\r\nHost: x\r\nX-Big: {new string('b', 40_000)}\r\n\r\n", 431, "headers" },
        { "bad Content-Length", "PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", 400, "Content-Length" },
        { "negative Content-Length", "PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: -2\r\n\r\n{}", 400, "Content-Length" },
        { "disagreeing Content-Length", "PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "Content-Length" },
        { "huge Content-Length", "PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n{}", 413, "limit" },
        { "chunk size fffffffff", "PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n{}", 413, "limit" },
        { "chunk size not hex", "PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}", 400, "chunk size" },
        { "both framings", "PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}", 400, "Transfer-Encoding" },
        { "gzip", "PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}", 400, "gzip" },
        { "garbage", "HELLO\r\n\r\n", 400, "request line" },
        { "HTTP/2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0" },
        { "absolute form", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "path" },
        { "header without colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "header" },
        { "Expect other", "PUT /mmds HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}", 417, "Expect" },
        { "query", "GET /machine-config?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "query" },
    };

    [Theory]
    [MemberData(nameof(ServerLevelRefusals))]
    public async Task ServerLevelRefusal_Answers4xxWithFaultMessage(string name, string request, int status, string named)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath, Encoding.Latin1.GetBytes(request), Ct);

        Assert.True(response.Status == status, $"{name}: expected {status}, got {response.Status} {response.Body}");
        Assert.Contains(named, response.FaultMessage(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Not started", await host.GetJsonAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Body_InvalidUtf8_Answers400()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        byte[] request = [.. Encoding.ASCII.GetBytes("PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{\"k\":\""), 0xC3, 0x28, .. "\"}"u8];

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath, request, Ct);

        Assert.Equal(400, response.Status);
        Assert.Contains("UTF-8", response.FaultMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Head_Answers405WithAllowAndTheFaultsLengthButNoBody()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", Ct, head: true);

        Assert.Equal(405, response.Status);
        Assert.Equal("GET, PUT, PATCH", response.Headers["allow"]);
        Assert.Equal("application/json", response.Headers["content-type"]);
        Assert.True(int.Parse(response.Headers["content-length"], System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task MissingHost_IsServedAsFirecrackerServesIt()
    {
        // Firecracker's micro_http does not require Host on its Unix socket; neither do we.
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath, "GET / HTTP/1.1\r\n\r\n", Ct);

        Assert.Equal(200, response.Status);
        Assert.Contains("Not started", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkedBodyWithExpectContinue_IsAccepted()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        RawHttp.Response response = await RawHttp.SendAsync(host.SocketPath,
            "PUT /mmds HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n4;ext=1\r\n:42}\r\n0\r\nX-Trailer: y\r\n\r\n", Ct);

        Assert.Equal(204, response.Status);
        Assert.Contains("42", await host.GetJsonAsync("/mmds"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeepAlive_SeveralRequestsOnOneConnection_AreAnsweredInOrder()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(host.SocketPath), Ct);
        await using var stream = new System.Net.Sockets.NetworkStream(socket);

        await stream.WriteAsync(Encoding.ASCII.GetBytes(Put("/mmds", """{"n":1}""") + "GET /mmds HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /nope HTTP/1.1\r\n\r\n"), Ct);

        Assert.Equal(204, (await RawHttp.ReadResponseAsync(stream, false, Ct)).Status);
        Assert.Contains("\"n\":1", (await RawHttp.ReadResponseAsync(stream, false, Ct)).Body, StringComparison.Ordinal);
        Assert.Contains("Invalid request", (await RawHttp.ReadResponseAsync(stream, false, Ct)).FaultMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpClient_StillWorks()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        (HttpStatusCode status, _) = await host.SendAsync("PUT", "/machine-config", """{"vcpu_count":2,"mem_size_mib":256}""");

        Assert.Equal(HttpStatusCode.NoContent, status);
    }
}
