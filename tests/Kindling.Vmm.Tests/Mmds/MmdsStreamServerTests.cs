using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Mmds;

public sealed class MmdsStreamServerTests
{
    [Fact]
    public async Task Serve_OverRealTcpSocket_TokenThenSecretWithHttpClient()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var store = new MmdsDataStore(TimeProvider.System);
        store.Put(JsonNode.Parse("""{ "latest": { "secret": "hunter2" } }"""));
        var responder = new MmdsHttpResponder(store);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task server = Task.Run(async () =>
        {
            using TcpClient client = await listener.AcceptTcpClientAsync(ct);
            await MmdsStreamServer.ServeAsync(client.GetStream(), responder, ct);
        }, ct);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}") };

        using var tokenRequest = new HttpRequestMessage(HttpMethod.Put, "/latest/api/token");
        tokenRequest.Headers.Add("X-metadata-token-ttl-seconds", "60");
        using HttpResponseMessage tokenResponse = await http.SendAsync(tokenRequest, ct);
        string token = await tokenResponse.Content.ReadAsStringAsync(ct);
        using HttpResponseMessage unauthorized = await http.GetAsync("/latest/secret", ct);
        using var get = new HttpRequestMessage(HttpMethod.Get, "/latest/secret");
        get.Headers.Add("X-metadata-token", token);
        using HttpResponseMessage secret = await http.SendAsync(get, ct);

        Assert.Equal(HttpStatusCode.OK, tokenResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(HttpStatusCode.OK, secret.StatusCode);
        Assert.Equal("hunter2", await secret.Content.ReadAsStringAsync(ct));
        http.Dispose();
        listener.Stop();
        await server.WaitAsync(TimeSpan.FromSeconds(10), ct); // the server returns when the client closes the connection
    }
}
