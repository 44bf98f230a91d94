using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>
/// The VMM's Firecracker-compatible REST API over its Unix socket. Errors carry Firecracker's
/// <c>fault_message</c>.
/// </summary>
public sealed class VmmApiClient : IDisposable
{
    private readonly HttpClient _http;

    public VmmApiClient(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) => new NetworkStream(await ConnectAsync(socketPath, ct), ownsSocket: true),
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A stream socket connected to the Unix socket <paramref name="socketPath"/>.</summary>
    public static async Task<Socket> ConnectAsync(string socketPath, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>PUTs one of the contract's records, written by its source-generated <paramref name="type"/>.</summary>
    public Task PutAsync<T>(string path, T body, JsonTypeInfo<T> type, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, path, JsonSerializer.Serialize(body, type), ct);

    /// <summary>PUTs a free-form document (the MMDS tree).</summary>
    public Task PutAsync(string path, JsonNode body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        return SendAsync(HttpMethod.Put, path, body.ToJsonString(), ct);
    }

    /// <summary>PATCH (Firecracker: <c>/vm</c>, <c>/mmds</c> as a JSON merge patch, <c>/drives/ID</c>).</summary>
    public Task PatchAsync(string path, JsonNode body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        return SendAsync(HttpMethod.Patch, path, body.ToJsonString(), ct);
    }

    private async Task SendAsync(HttpMethod method, string path, string json, CancellationToken ct)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using HttpResponseMessage response = await _http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            string text = await response.Content.ReadAsStringAsync(ct);
            string fault = text;
            try
            {
                fault = JsonSerializer.Deserialize(text, VmmContractJsonContext.Default.ApiFault)?.FaultMessage ?? text;
            }
            catch (JsonException)
            {
            }

            // Never echo the body we sent: /mmds carries secrets.
            throw new VmLaunchException($"VMM API {method.Method} /{path} answered {(int)response.StatusCode}: {fault}");
        }
    }

    public async Task<JsonNode?> GetAsync(string path, CancellationToken ct) =>
        await _http.GetFromJsonAsync<JsonNode>(path, ct);

    public void Dispose() => _http.Dispose();
}
