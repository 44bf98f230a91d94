using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Kindling.Runner.Launch;

/// <summary>
/// Starts <c>kindling-vmm</c> for real: writes vm.json (Firecracker config-file format, no secrets) for the
/// record, spawns <c>kindling-vmm --api-sock SOCK --id VMID</c>, replays the same sections over the API
/// (PUT /boot-source, /machine-config, /drives/ID, /network-interfaces/ID, /mmds/config, /serial, /logger,
/// /metrics), PUTs the job tree to /mmds and only then <c>InstanceStart</c> — so the guest never boots without
/// its metadata. The VMM's stdout (the guest's serial console) goes to the serial FIFO and its stderr to the work
/// directory's vmm.out, both opened by the VMM process itself (see <see cref="DetachedProcess"/>).
/// </summary>
public sealed class VmmLauncher(string vmmPath) : IVmLauncher
{
    public static readonly TimeSpan SocketWait = TimeSpan.FromSeconds(10);

    /// <summary>kindling-vmm next to the kindling executable, else from PATH.</summary>
    public static string Locate(string configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        string sibling = Path.Combine(AppContext.BaseDirectory, "kindling-vmm");
        return File.Exists(sibling) ? sibling : "kindling-vmm";
    }

    public async Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        JobWorkspace ws = request.Workspace;
        string temp = ws.VmConfigPath + ".tmp";
        await File.WriteAllTextAsync(temp, request.VmConfig.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), ct);
        File.Move(temp, ws.VmConfigPath, overwrite: true);
        File.Delete(ws.ApiSocketPath);

        // Guest serial output is the VMM's stdout when it starts without a config file (PUT /serial does not move
        // it), so stdout is the serial FIFO; stderr (its own log and one-line failure reason) goes to vmm.out. The
        // VMM writes both itself, not through pipes to us: it and its output outlive a runner crash.
        Process process;
        try
        {
            process = DetachedProcess.Start(vmmPath, ["--api-sock", ws.ApiSocketPath, "--id", request.VmId], ws.Directory, ws.SerialFifoPath, ws.VmmOutputPath);
        }
        catch (FileNotFoundException e)
        {
            throw new VmLaunchException($"cannot start kindling-vmm: {e.Message}; build it (dotnet build vmm/Kindling.Vmm.Cli) or set Kindling:Launcher:VmmPath", e);
        }

        var handle = new ProcessVmHandle(process);
        onSpawned(handle.Pid);
        try
        {
            await WaitForSocketAsync(ws.ApiSocketPath, ws.VmmOutputPath, handle, ct);
            using var api = new VmmApiClient(ws.ApiSocketPath);
            await ConfigureAsync(api, request.VmConfig, ct);
            await api.PutAsync("mmds", request.Mmds.DeepClone(), ct);
            await api.PutAsync("actions", new JsonObject { ["action_type"] = "InstanceStart" }, ct);
            return handle;
        }
        catch
        {
            await handle.DisposeAsync();
            throw;
        }
    }

    private static async Task ConfigureAsync(VmmApiClient api, JsonObject config, CancellationToken ct)
    {
        foreach ((string section, string path) in ((string, string)[])
                 [("logger", "logger"), ("metrics", "metrics"), ("boot-source", "boot-source"), ("machine-config", "machine-config"), ("serial", "serial")])
        {
            if (config[section] is { } body)
            {
                await api.PutAsync(path, body.DeepClone(), ct);
            }
        }

        foreach (JsonNode? drive in config["drives"]?.AsArray() ?? [])
        {
            await api.PutAsync($"drives/{drive!["drive_id"]!.GetValue<string>()}", drive.DeepClone(), ct);
        }

        foreach (JsonNode? iface in config["network-interfaces"]?.AsArray() ?? [])
        {
            await api.PutAsync($"network-interfaces/{iface!["iface_id"]!.GetValue<string>()}", iface.DeepClone(), ct);
        }

        if (config["mmds-config"] is { } mmdsConfig)
        {
            await api.PutAsync("mmds/config", mmdsConfig.DeepClone(), ct);
        }
    }

    private static async Task WaitForSocketAsync(string path, string outputPath, IVmHandle handle, CancellationToken ct)
    {
        DateTime until = DateTime.UtcNow + SocketWait;
        // The file appears at bind(2), before listen(2): a connect in between is refused. Wait for one that is
        // accepted (the first API request failed with "Connection refused" under load without this).
        while (!File.Exists(path) || !await AcceptsAsync(path, ct))
        {
            if (handle.Exited.IsCompleted)
            {
                int code = await handle.Exited;
                throw new VmLaunchException(DetachedProcess.LastLine(outputPath) is { } why
                    ? $"kindling-vmm exited with code {code} before opening its API socket: {why}"
                    : $"kindling-vmm exited with code {code} before opening its API socket, with no output");
            }

            if (DateTime.UtcNow > until)
            {
                throw new VmLaunchException($"kindling-vmm did not create its API socket {path} within {SocketWait.TotalSeconds} s");
            }

            await Task.Delay(10, ct);
        }
    }

    /// <summary>True when a connection to the Unix socket <paramref name="path"/> is accepted (it is closed at once).</summary>
    internal static async Task<bool> AcceptsAsync(string path, CancellationToken ct)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path), ct);
            return true;
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.AddressNotAvailable)
        {
            return false;
        }
    }
}
