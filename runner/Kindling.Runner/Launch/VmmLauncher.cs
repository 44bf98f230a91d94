using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Kindling.Runner.Launch;

/// <summary>
/// Starts <c>kindling-vmm</c> for real: writes vm.json (Firecracker config-file format, no secrets) for the
/// record, spawns <c>kindling-vmm --api-sock SOCK --id VMID</c>, replays the same sections over the API
/// (PUT /boot-source, /machine-config, /drives/ID, /network-interfaces/ID, /mmds/config, /serial, /logger,
/// /metrics), PUTs the job tree to /mmds and only then <c>InstanceStart</c> — so the guest never boots without
/// its metadata. The VMM's stdout/stderr go to the work directory's vmm.out.
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

        var psi = new ProcessStartInfo(vmmPath, ["--api-sock", ws.ApiSocketPath, "--id", request.VmId])
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ws.Directory,
        };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new VmLaunchException($"cannot start {vmmPath}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmLaunchException($"cannot start {vmmPath}: {e.Message}; build it (dotnet build vmm/Kindling.Vmm.Cli) or set Kindling:Launcher:VmmPath", e);
        }

        var output = new StreamWriter(Path.Combine(ws.Directory, "vmm.out"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var handle = new ProcessVmHandle(process);
        onSpawned(handle.Pid);
        try
        {
            await WaitForSocketAsync(ws.ApiSocketPath, handle, ct);
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

    private static async Task WaitForSocketAsync(string path, IVmHandle handle, CancellationToken ct)
    {
        DateTime until = DateTime.UtcNow + SocketWait;
        while (!File.Exists(path))
        {
            if (handle.Exited.IsCompleted)
            {
                throw new VmLaunchException($"kindling-vmm exited with code {await handle.Exited} before opening its API socket (see vmm.out in the job's work directory)");
            }

            if (DateTime.UtcNow > until)
            {
                throw new VmLaunchException($"kindling-vmm did not create its API socket {path} within {SocketWait.TotalSeconds} s");
            }

            await Task.Delay(10, ct);
        }
    }
}
