using Kindling.Testing;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// Runs kindling-vmm as a real process: <c>dotnet kindling-vmm.dll --config-file vm.json --no-api</c>, the dll being
/// the one the test project's reference to Kindling.Vmm.Cli copies next to the tests, or the native build named by
/// <see cref="Cli.VmmProcess.NativeVariable"/>.
/// </summary>
internal static class KindlingVmmProcess
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "kindling-vmm.dll");

    /// <summary>The dotnet host running the tests (DOTNET_HOST_PATH, set by the SDK), else dotnet from PATH.</summary>
    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>A config booting the test guest with <paramref name="bootArgs"/>.</summary>
    public static VmConfig GuestConfig(string bootArgs, int vcpus = 1, int memMib = 128) => new()
    {
        BootSource = new BootSourceConfig { KernelImagePath = GuestBuilder.ImagePath, BootArgs = bootArgs },
        MachineConfig = new MachineConfig { VcpuCount = vcpus, MemSizeMib = memMib },
    };

    public static async Task<GuestRunResult> RunAsync(VmConfig config, string workDirectory, TimeSpan timeout, CancellationToken cancellationToken,
        IReadOnlyList<string>? extraArguments = null, Action<string>? onLine = null)
    {
        string configPath = Path.Combine(workDirectory, "vm.json");
        if (Cli.VmmProcess.NativePath is { } native)
        {
            await File.WriteAllTextAsync(configPath, VmConfigJson.Serialize(config), cancellationToken);
            return await GuestProcess.RunAsync(native, ["--config-file", configPath, "--no-api", .. extraArguments ?? []], timeout, cancellationToken,
                onLine: onLine);
        }

        if (!File.Exists(DllPath))
        {
            throw new FileNotFoundException($"kindling-vmm.dll is not next to the tests at {DllPath}; build tests/Kindling.Vmm.Tests");
        }

        await File.WriteAllTextAsync(configPath, VmConfigJson.Serialize(config), cancellationToken);
        return await GuestProcess.RunAsync(DotnetHost, [DllPath, "--config-file", configPath, "--no-api", .. extraArguments ?? []], timeout, cancellationToken,
            onLine: onLine);
    }
}
