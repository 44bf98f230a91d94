using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Kindling.Testing;
using Kindling.Vmm.Api;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Api;

/// <summary>A real API server on a temporary Unix socket, its VMM loop, and an HttpClient connected to the socket.</summary>
internal sealed class ApiTestHost : IAsyncDisposable
{
    private readonly VmmActionChannel _channel;
    private readonly Task _loop;
    private readonly ApiServer _server;
    private readonly string _dir;

    private ApiTestHost(string dir, ApiServer server, VmmActionChannel channel, Task loop, VmmController controller, FakeVmmBackend backend)
    {
        _channel = channel;
        _dir = dir;
        _server = server;
        _loop = loop;
        Controller = controller;
        Backend = backend;
        Client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri("http://localhost") };
    }

    public HttpClient Client { get; }

    public string SocketPath => _server.SocketPath;

    public VmmController Controller { get; }

    public FakeVmmBackend Backend { get; }

    public static async Task<ApiTestHost> StartAsync(int mmdsSizeLimit = MmdsDataStore.DefaultSizeLimit)
    {
        string dir = Directory.CreateTempSubdirectory("kapi").FullName;
        var backend = new FakeVmmBackend();
        var controller = new VmmController(backend, new MmdsDataStore(new FakeTimeProvider(), mmdsSizeLimit), "test-vm");
        var channel = new VmmActionChannel();
        Task loop = Task.Run(() => channel.RunAsync(controller, CancellationToken.None));
        ApiServer server = await ApiServer.StartAsync(Path.Combine(dir, "api.sock"), channel, null, TestContext.Current.CancellationToken);
        return new ApiTestHost(dir, server, channel, loop, controller, backend);
    }

    public async Task<(HttpStatusCode Status, string Body)> SendAsync(string method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using HttpResponseMessage response = await Client.SendAsync(request, TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>Sends and asserts a 204.</summary>
    public async Task OkAsync(string method, string path, string? body = null)
    {
        (HttpStatusCode status, string text) = await SendAsync(method, path, body);
        Assert.True(status == HttpStatusCode.NoContent, $"{method} {path}: {(int)status} {text}");
    }

    /// <summary>Sends, asserts a 400 with a fault_message, and returns the message.</summary>
    public async Task<string> FaultAsync(string method, string path, string? body = null)
    {
        (HttpStatusCode status, string text) = await SendAsync(method, path, body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{method} {path}: expected 400, got {(int)status} {text}");
        using JsonDocument doc = JsonDocument.Parse(text);
        string message = doc.RootElement.GetProperty("fault_message").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(message));
        return message;
    }

    public async Task<string> GetJsonAsync(string path)
    {
        (HttpStatusCode status, string text) = await SendAsync("GET", path);
        Assert.True(status == HttpStatusCode.OK, $"GET {path}: {(int)status} {text}");
        return text;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.DisposeAsync();
        _channel.Complete();
        await _loop;
        Backend.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
