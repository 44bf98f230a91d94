using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Kindling.Benchmarks.Vm;

/// <summary>kindling-vmm's Firecracker API over its Unix socket (HTTP/1.1, one kept-alive connection).</summary>
internal sealed class VmmApiClient : IDisposable
{
    private readonly HttpClient _http;

    public VmmApiClient(string socketPath)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token);
                return new NetworkStream(s, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri("http://localhost") };
    }

    /// <summary>Waits until the socket accepts connections (the VMM is up and serving).</summary>
    public static void WaitForSocket(string socketPath, VmProcess vmm, TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (vmm.Process.HasExited)
            {
                throw vmm.Failure($"exited ({vmm.Process.ExitCode}) before serving {socketPath}");
            }

            if (File.Exists(socketPath))
            {
                try
                {
                    using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    s.Connect(new UnixDomainSocketEndPoint(socketPath));
                    return;
                }
                catch (SocketException)
                {
                    // Bound but not listening yet.
                }
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw vmm.Failure($"did not serve {socketPath} within {timeout.TotalSeconds:F0} s");
            }

            Thread.Sleep(2);
        }
    }

    public void Put(string path, string json)
    {
        using var body = new StringContent(json, Encoding.UTF8, "application/json");
        using HttpResponseMessage r = _http.PutAsync(path, body).GetAwaiter().GetResult();
        if (!r.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT {path}: {(int)r.StatusCode} {r.Content.ReadAsStringAsync().GetAwaiter().GetResult()}");
        }
    }

    public string Get(string path) => _http.GetStringAsync(path).GetAwaiter().GetResult();

    public void Dispose() => _http.Dispose();
}
