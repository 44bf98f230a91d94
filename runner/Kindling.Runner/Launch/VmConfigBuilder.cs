using System.Text.Json.Nodes;

namespace Kindling.Runner.Launch;

/// <summary>
/// The VM's configuration in Firecracker's config-file format (what <c>kindling-vmm --config-file</c> reads).
/// Built as plain JSON nodes: the runner depends on the VMM only through this file format, never its types.
/// Contains no secrets (those go only into MMDS over the API socket).
/// </summary>
public static class VmConfigBuilder
{
    public const string RootDriveId = "rootfs";
    public const string OverlayDriveId = "overlay";
    public const string NetIfaceId = "eth0";

    public static JsonObject Build(GuestImages images, string overlayPath, int vcpus, int memoryMib, JobWorkspace ws, GuestNetwork? net)
    {
        string bootArgs = images.BootArgs;
        if (net is not null)
        {
            // Kernel-level IP config: ip=client::gateway:netmask::iface:off
            bootArgs += $" ip={net.GuestAddress}::{net.HostAddress}:255.255.255.252::eth0:off";
        }

        var bootSource = new JsonObject { ["kernel_image_path"] = images.KernelPath, ["boot_args"] = bootArgs };
        if (images.InitrdPath is not null)
        {
            bootSource["initrd_path"] = images.InitrdPath;
        }

        var config = new JsonObject
        {
            ["boot-source"] = bootSource,
            ["machine-config"] = images.CpuTemplate is { } template
                ? new JsonObject { ["vcpu_count"] = vcpus, ["mem_size_mib"] = memoryMib, ["smt"] = false, ["cpu_template"] = template }
                : new JsonObject { ["vcpu_count"] = vcpus, ["mem_size_mib"] = memoryMib, ["smt"] = false },
            ["drives"] = new JsonArray(
                new JsonObject
                {
                    ["drive_id"] = RootDriveId, ["path_on_host"] = images.BaseRootfsPath, ["is_root_device"] = true, ["is_read_only"] = true,
                },
                new JsonObject
                {
                    ["drive_id"] = OverlayDriveId, ["path_on_host"] = overlayPath, ["is_root_device"] = false, ["is_read_only"] = false,
                }),
            ["network-interfaces"] = new JsonArray(),
            ["serial"] = new JsonObject { ["serial_out_path"] = ws.SerialFifoPath },
            ["logger"] = new JsonObject { ["log_path"] = ws.VmmLogPath, ["level"] = "Info", ["show_level"] = true },
            ["metrics"] = new JsonObject { ["metrics_path"] = ws.MetricsPath },
        };
        if (net is not null)
        {
            config["network-interfaces"]!.AsArray().Add(new JsonObject
            {
                ["iface_id"] = NetIfaceId, ["host_dev_name"] = net.TapName, ["guest_mac"] = net.GuestMac,
            });
            config["mmds-config"] = new JsonObject { ["version"] = "V2", ["network_interfaces"] = new JsonArray(NetIfaceId) };
        }

        return config;
    }
}
