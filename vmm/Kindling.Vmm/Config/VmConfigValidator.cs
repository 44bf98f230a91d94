using System.Text.RegularExpressions;

namespace Kindling.Vmm.Config;

/// <summary>
/// Semantic checks shared by the config file and the API. Each failure is one message that names the field and
/// the allowed values. File existence is checked at VM start (the paths may be created after configuration).
/// </summary>
public static partial class VmConfigValidator
{
    public const int MaxVcpus = 32;
    public const int MaxMemSizeMib = 1024 * 1024;
    public static readonly IReadOnlyList<string> CpuTemplates = ["None", "Minimal", "Emulated"];
    public static readonly IReadOnlyList<string> LogLevels = ["Error", "Warning", "Info", "Debug", "Trace", "Off"];

    /// <summary>The smallest IPv4 MTU (RFC 791) and the largest a virtio-net config can advertise.</summary>
    public const int MinMtu = 68;
    public const int MaxMtu = 65535;

    public static void Validate(VmConfig config)
    {
        if (config.BootSource is null)
        {
            throw new VmConfigException("boot-source is missing: set boot-source.kernel_image_path");
        }

        Validate(config.BootSource);
        if (config.MachineConfig is not null)
        {
            Validate(config.MachineConfig);
        }

        var driveIds = new HashSet<string>(StringComparer.Ordinal);
        int roots = 0;
        RequireEntries(config.Drives, "drives", "an object with drive_id and path_on_host");
        foreach (DriveConfig drive in config.Drives)
        {
            Validate(drive);
            if (!driveIds.Add(drive.DriveId))
            {
                throw new VmConfigException($"drives: drive_id \"{drive.DriveId}\" appears twice");
            }

            roots += drive.IsRootDevice ? 1 : 0;
        }

        if (roots > 1)
        {
            throw new VmConfigException("drives: more than one drive has is_root_device=true");
        }

        var ifaceIds = new HashSet<string>(StringComparer.Ordinal);
        RequireEntries(config.NetworkInterfaces, "network-interfaces", "an object with iface_id and host_dev_name");
        foreach (NetworkInterfaceConfig iface in config.NetworkInterfaces)
        {
            Validate(iface);
            if (!ifaceIds.Add(iface.IfaceId))
            {
                throw new VmConfigException($"network-interfaces: iface_id \"{iface.IfaceId}\" appears twice");
            }
        }

        if (config.Vsock is not null)
        {
            Validate(config.Vsock);
        }

        if (config.Entropy?.RateLimiter is not null)
        {
            Validate(config.Entropy.RateLimiter, "entropy.rate_limiter");
        }

        if (config.MmdsConfig is not null)
        {
            Validate(config.MmdsConfig, ifaceIds);
        }

        if (config.Logger is not null)
        {
            Validate(config.Logger);
        }

        if (config.Metrics is not null)
        {
            Validate(config.Metrics);
        }

        if (config.Serial is not null)
        {
            Validate(config.Serial);
        }

        if (config.Balloon is not null || config.CpuConfig is not null || config.MemoryHotplug is not null || config.Pmem is not null)
        {
            throw new VmConfigException(
                "balloon, cpu-config, memory-hotplug and pmem are Firecracker features Kindling does not support; remove those sections");
        }
    }

    public static void Validate(BootSourceConfig boot)
    {
        if (string.IsNullOrWhiteSpace(boot.KernelImagePath))
        {
            throw new VmConfigException("boot-source.kernel_image_path is empty: give the path of an ELF vmlinux or bzImage");
        }

        RequirePath(boot.KernelImagePath, "boot-source.kernel_image_path");
        RequirePath(boot.InitrdPath, "boot-source.initrd_path");
        RequireText(boot.BootArgs, "boot-source.boot_args");

        if (boot.BootArgs is { Length: > KernelCommandLine.MaxLength })
        {
            throw new VmConfigException(
                $"boot-source.boot_args is {boot.BootArgs.Length} bytes; the limit is {KernelCommandLine.MaxLength} (the kernel's command line buffer, x86 COMMAND_LINE_SIZE {KernelCommandLine.Size} with its NUL)");
        }
    }

    public static void Validate(MachineConfig machine)
    {
        if (machine.VcpuCount is < 1 or > MaxVcpus)
        {
            throw new VmConfigException($"machine-config.vcpu_count is {machine.VcpuCount}; it must be 1..{MaxVcpus}");
        }

        if (machine.Smt && machine.VcpuCount > 1 && machine.VcpuCount % 2 != 0)
        {
            throw new VmConfigException("machine-config.vcpu_count must be even (or 1) when smt is true");
        }

        if (machine.MemSizeMib is < 1 or > MaxMemSizeMib)
        {
            throw new VmConfigException($"machine-config.mem_size_mib is {machine.MemSizeMib}; it must be 1..{MaxMemSizeMib}");
        }

        if (machine.CpuTemplate is not null && !CpuTemplates.Contains(machine.CpuTemplate, StringComparer.OrdinalIgnoreCase))
        {
            throw new VmConfigException(
                $"machine-config.cpu_template \"{machine.CpuTemplate}\" is unknown; use one of {string.Join(", ", CpuTemplates)}");
        }

        if (machine.HugePages is not null && !string.Equals(machine.HugePages, "None", StringComparison.Ordinal))
        {
            throw new VmConfigException("machine-config.huge_pages: only \"None\" is supported");
        }
    }

    public static void Validate(DriveConfig drive)
    {
        RequireId(drive.DriveId, "drives[].drive_id");
        if (drive.Socket is not null)
        {
            throw new VmConfigException($"drives[{drive.DriveId}].socket: vhost-user block devices are not supported; use path_on_host");
        }

        if (string.IsNullOrWhiteSpace(drive.PathOnHost))
        {
            throw new VmConfigException($"drives[{drive.DriveId}].path_on_host is missing");
        }

        RequirePath(drive.PathOnHost, $"drives[{drive.DriveId}].path_on_host");
        RequireText(drive.PartUuid, $"drives[{drive.DriveId}].partuuid");

        if (drive.CacheType is not null and not ("Unsafe" or "Writeback"))
        {
            throw new VmConfigException($"drives[{drive.DriveId}].cache_type \"{drive.CacheType}\": use Unsafe or Writeback");
        }

        if (drive.IoEngine is not null and not ("Sync" or "Async"))
        {
            throw new VmConfigException($"drives[{drive.DriveId}].io_engine \"{drive.IoEngine}\": use Sync or Async");
        }

        if (drive.RateLimiter is not null)
        {
            Validate(drive.RateLimiter, $"drives[{drive.DriveId}].rate_limiter");
        }
    }

    public static void Validate(NetworkInterfaceConfig iface)
    {
        RequireId(iface.IfaceId, "network-interfaces[].iface_id");
        if (string.IsNullOrEmpty(iface.HostDevName) || iface.HostDevName.Length > 15)
        {
            throw new VmConfigException(
                $"network-interfaces[{iface.IfaceId}].host_dev_name must be 1..15 characters (a Linux interface name)");
        }

        RequirePath(iface.HostDevName, $"network-interfaces[{iface.IfaceId}].host_dev_name");

        if (iface.GuestMac is not null && !MacPattern().IsMatch(iface.GuestMac))
        {
            throw new VmConfigException(
                $"network-interfaces[{iface.IfaceId}].guest_mac \"{iface.GuestMac}\" is not a MAC address like 06:00:AC:10:00:02");
        }

        if (iface.Mtu is < MinMtu or > MaxMtu)
        {
            throw new VmConfigException($"network-interfaces[{iface.IfaceId}].mtu is {iface.Mtu}; it must be {MinMtu}..{MaxMtu}");
        }

        if (iface.RxRateLimiter is not null)
        {
            Validate(iface.RxRateLimiter, $"network-interfaces[{iface.IfaceId}].rx_rate_limiter");
        }

        if (iface.TxRateLimiter is not null)
        {
            Validate(iface.TxRateLimiter, $"network-interfaces[{iface.IfaceId}].tx_rate_limiter");
        }
    }

    public static void Validate(VsockConfig vsock)
    {
        // CIDs 0..2 are reserved (hypervisor, local, host); the CID is 32 bits in virtio-vsock config.
        if (vsock.GuestCid is < 3 or > uint.MaxValue)
        {
            throw new VmConfigException($"vsock.guest_cid is {vsock.GuestCid}; it must be 3..{uint.MaxValue}");
        }

        if (string.IsNullOrWhiteSpace(vsock.UdsPath))
        {
            throw new VmConfigException("vsock.uds_path is empty");
        }

        RequirePath(vsock.UdsPath, "vsock.uds_path");
        RequireText(vsock.VsockId, "vsock.vsock_id");
    }

    public static void Validate(MmdsConfig mmds, IReadOnlySet<string>? knownIfaces)
    {
        if (mmds.Version is not ("V1" or "V2"))
        {
            throw new VmConfigException($"mmds-config.version \"{mmds.Version}\": use V1 or V2");
        }

        if (mmds.NetworkInterfaces.Count == 0)
        {
            throw new VmConfigException("mmds-config.network_interfaces is empty: name at least one iface_id");
        }

        RequireEntries(mmds.NetworkInterfaces, "mmds-config.network_interfaces", "an iface_id string");

        if (knownIfaces is not null)
        {
            foreach (string id in mmds.NetworkInterfaces)
            {
                if (!knownIfaces.Contains(id))
                {
                    throw new VmConfigException($"mmds-config.network_interfaces names \"{id}\", which is not a configured iface_id");
                }
            }
        }

        if (mmds.Ipv4Address is not null)
        {
            if (!System.Net.IPAddress.TryParse(mmds.Ipv4Address, out System.Net.IPAddress? ip)
                || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw new VmConfigException($"mmds-config.ipv4_address \"{mmds.Ipv4Address}\" is not an IPv4 address");
            }

            byte[] b = ip.GetAddressBytes();
            if (b[0] != 169 || b[1] != 254)
            {
                throw new VmConfigException($"mmds-config.ipv4_address \"{mmds.Ipv4Address}\" must be link-local (169.254.0.0/16)");
            }
        }
    }

    public static void Validate(LoggerConfig logger)
    {
        if (logger.Level is not null && !LogLevels.Contains(logger.Level, StringComparer.OrdinalIgnoreCase))
        {
            throw new VmConfigException($"logger.level \"{logger.Level}\" is unknown; use one of {string.Join(", ", LogLevels)}");
        }

        if (logger.LogPath is { Length: 0 })
        {
            throw new VmConfigException("logger.log_path is empty: give the path of a file or named pipe, or leave it out");
        }

        RequirePath(logger.LogPath, "logger.log_path");
        RequireText(logger.Module, "logger.module");
    }

    public static void Validate(MetricsConfig metrics)
    {
        if (string.IsNullOrWhiteSpace(metrics.MetricsPath))
        {
            throw new VmConfigException("metrics.metrics_path is empty: give the path of a file or named pipe");
        }

        RequirePath(metrics.MetricsPath, "metrics.metrics_path");
    }

    public static void Validate(SerialConfig serial)
    {
        if (serial.SerialOutPath is { Length: 0 })
        {
            throw new VmConfigException("serial.serial_out_path is empty: give the path of a file or named pipe, or leave it out for stdout");
        }

        RequirePath(serial.SerialOutPath, "serial.serial_out_path");

        if (serial.RateLimiter is not null)
        {
            throw new VmConfigException(
                "serial.rate_limiter is not supported: Kindling never drops guest serial output (it applies back-pressure instead); remove rate_limiter");
        }
    }

    public static void Validate(RateLimiterConfig limiter, string field)
    {
        Validate(limiter.Bandwidth, field + ".bandwidth");
        Validate(limiter.Ops, field + ".ops");
    }

    private static void Validate(TokenBucketConfig? bucket, string field)
    {
        if (bucket is null)
        {
            return;
        }

        if (bucket.Size < 0 || bucket.RefillTime < 0 || bucket.OneTimeBurst < 0)
        {
            throw new VmConfigException($"{field}: size, refill_time and one_time_burst must not be negative");
        }

        if (bucket.Size > 0 && bucket.RefillTime == 0)
        {
            throw new VmConfigException($"{field}.refill_time is 0 with a non-zero size; give the refill period in ms (0 size disables the bucket)");
        }
    }

    /// <summary>A resource id as Firecracker checks it: 1..64 characters of A-Z a-z 0-9 and _.</summary>
    public static void ValidateId(string id, string field)
    {
        if (!IdPattern().IsMatch(id))
        {
            throw new VmConfigException($"{field} \"{id}\" must be 1..64 characters of A-Z a-z 0-9 _");
        }
    }

    /// <summary>A host path: refused with a NUL character (no system call can take it) or a lone surrogate.</summary>
    public static void RequirePath(string? path, string field)
    {
        if (path is not null && path.Contains('\0', StringComparison.Ordinal))
        {
            throw new VmConfigException($"{field} contains a NUL character (\\u0000), which no host path can hold; remove it");
        }

        RequireText(path, field);
    }

    /// <summary>Text that reaches files, logs or the guest: refused when it is not valid Unicode (a lone surrogate).</summary>
    public static void RequireText(string? text, string field)
    {
        if (text is not null && text.Contains('\0', StringComparison.Ordinal))
        {
            throw new VmConfigException($"{field} contains a NUL character (\\u0000); remove it");
        }

        if (text is not null && Utf16Text.IndexOfLoneSurrogate(text) >= 0)
        {
            throw new VmConfigException($"{field} is not valid Unicode (it has a lone surrogate such as \\ud800)");
        }
    }

    private static void RequireEntries<T>(IReadOnlyList<T> list, string field, string expected)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is null)
            {
                throw new VmConfigException($"{field}[{i}] is null; each entry must be {expected}");
            }
        }
    }

    private static void RequireId(string id, string field) => ValidateId(id, field);

    [GeneratedRegex("^[A-Za-z0-9_]{1,64}\\z")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]
    private static partial Regex MacPattern();
}
