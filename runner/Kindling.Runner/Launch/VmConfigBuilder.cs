using System.Text.Json;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>
/// The VM's configuration in Firecracker's config-file format (what <c>kindling-vmm --config-file</c> reads), as
/// the contract's records (Kindling.Vmm.Contract): the runner depends on the VMM only through that contract, never
/// its internals. Contains no secrets (those go only into MMDS over the API socket).
/// </summary>
public static class VmConfigBuilder
{
    public const string RootDriveId = "rootfs";
    public const string OverlayDriveId = "overlay";
    public const string NetIfaceId = "eth0";

    /// <summary>The VMM's log level the runner asks for (one of the VMM's logger levels).</summary>
    public const string LogLevel = "Info";

    public static VmConfig Build(GuestImages images, string overlayPath, int vcpus, int memoryMib, JobWorkspace ws, GuestNetwork? net)
    {
        var bootArgs = new KernelCommandLine(images.BootArgs);
        if (net is not null)
        {
            // Kernel-level IP config: ip=client::gateway:netmask::iface:off
            bootArgs.Append("ip", $"{net.GuestAddress}::{net.HostAddress}:255.255.255.252::{NetIfaceId}:off");
        }

        return new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = images.KernelPath, InitrdPath = images.InitrdPath, BootArgs = bootArgs.ToString() },
            MachineConfig = new MachineConfig { VcpuCount = vcpus, MemSizeMib = memoryMib, Smt = false, CpuTemplate = images.CpuTemplate },
            Drives =
            [
                new DriveConfig { DriveId = RootDriveId, PathOnHost = images.BaseRootfsPath, IsRootDevice = true, IsReadOnly = true },
                new DriveConfig { DriveId = OverlayDriveId, PathOnHost = overlayPath, IsRootDevice = false, IsReadOnly = false },
            ],
            NetworkInterfaces = net is null ? [] : [new NetworkInterfaceConfig { IfaceId = NetIfaceId, HostDevName = net.TapName, GuestMac = net.GuestMac }],
            MmdsConfig = net is null ? null : new MmdsConfig { Version = MmdsConfig.V2, NetworkInterfaces = [NetIfaceId] },
            Serial = new SerialConfig { SerialOutPath = ws.SerialFifoPath },
            Logger = new LoggerConfig { LogPath = ws.VmmLogPath, Level = LogLevel, ShowLevel = true },
            Metrics = new MetricsConfig { MetricsPath = ws.MetricsPath },
        };
    }

    /// <summary>vm.json's text: the contract's source-generated writer (absent sections left out, indented).</summary>
    public static string ToJson(VmConfig config) => JsonSerializer.Serialize(config, VmmContractJsonContext.Default.VmConfig);
}
