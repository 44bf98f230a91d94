using System.Text.Json;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Api;

/// <summary>
/// The VMM loop's owner of the configuration and lifecycle (Firecracker's PrebootApiController + RuntimeApiController).
/// Each action is validated on a candidate copy and committed only on success, so a refused request leaves the
/// state exactly as it was. Runs on one thread (the VMM loop); the API thread never calls it directly.
/// </summary>
public sealed partial class VmmController
{
    public const string AppName = "kindling-vmm";
    public const int DefaultVcpuCount = 1;
    public const int DefaultMemSizeMib = 128;

    private readonly IVmmBackend _backend;
    private readonly string _id;
    private readonly ILogger _logger;
    private VmConfig _config;

    public VmmController(IVmmBackend backend, MmdsDataStore mmds, string id, VmConfig? initial = null, ILogger? logger = null)
    {
        _backend = backend;
        Mmds = mmds;
        _id = id;
        _logger = logger ?? NullLogger.Instance;
        _config = initial ?? new VmConfig();
        if (_config.MmdsConfig is { } mmdsConfig)
        {
            ApplyMmdsConfig(mmdsConfig);
        }
    }

    public static string VmmVersion { get; } =
        typeof(VmmController).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public VmmState State { get; private set; } = VmmState.NotStarted;

    public MmdsDataStore Mmds { get; }

    /// <summary>The configuration as GET /vm/config shows it (machine-config defaults filled in).</summary>
    public VmConfig EffectiveConfig => _config with { MachineConfig = EffectiveMachineConfig };

    private MachineConfig EffectiveMachineConfig =>
        _config.MachineConfig ?? new MachineConfig { VcpuCount = DefaultVcpuCount, MemSizeMib = DefaultMemSizeMib };

    /// <summary>
    /// Applies one action; never throws (the fault is in the outcome). An exception no validation foresaw is
    /// logged here, once, and answered as an internal error: a request may fail, the VMM loop never does.
    /// </summary>
    public VmmOutcome Handle(VmmAction action)
    {
        try
        {
            return Dispatch(action);
        }
        catch (VmConfigException e)
        {
            return VmmOutcome.Fault(e.Message);
        }
        catch (VmmActionException e)
        {
            return VmmOutcome.Fault(e.Message);
        }
        catch (MmdsException e)
        {
            return VmmOutcome.Fault(e.Message);
        }
        catch (Exception e)
        {
            LogUnexpected(_logger, e, action.GetType().Name);
            return VmmOutcome.InternalError($"internal error in {action.GetType().Name} ({e.GetType().Name}: {e.Message}); the request was not applied");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Action} failed unexpectedly; answered with an internal error, configuration unchanged")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string action);

    private VmmOutcome Dispatch(VmmAction action) => action switch
    {
        GetInstanceInfo => Json(new InstanceInfo { Id = _id, State = State.ToApiString(), VmmVersion = VmmVersion, AppName = AppName }),
        GetVersion => Json(new VersionInfo { FirecrackerVersion = VmmVersion }),
        GetVmConfig => Json(EffectiveConfig),
        GetMachineConfig => Json(EffectiveMachineConfig),
        ConfigureBootSource a => PreBoot("boot-source", () => SetBootSource(a.BootSource)),
        PutMachineConfig a => PreBoot("machine-config", () => SetMachineConfig(a.MachineConfig)),
        PatchMachineConfig a => PreBoot("machine-config", () => SetMachineConfig(Merge(EffectiveMachineConfig, a.Update))),
        InsertBlockDevice a => PreBoot("drives", () => InsertDrive(a.Drive)),
        InsertNetworkDevice a => PreBoot("network-interfaces", () => InsertInterface(a.Interface)),
        SetVsockDevice a => PreBoot("vsock", () => Commit(_config with { Vsock = Checked(a.Vsock, VmConfigValidator.Validate) })),
        SetEntropyDevice a => PreBoot("entropy", () => SetEntropy(a.Entropy)),
        ConfigureLogger a => PreBoot("logger", () => SetLogger(a.Logger)),
        ConfigureMetrics a => PreBoot("metrics", () => SetMetrics(a.Metrics)),
        ConfigureSerial a => PreBoot("serial", () => Commit(_config with { Serial = Checked(a.Serial, VmConfigValidator.Validate) })),
        SetMmdsConfig a => PreBoot("mmds/config", () => SetMmdsConfig(a.Config)),
        UpdateBlockDevice a => PostBoot("drives", () => UpdateDrive(a.Update)),
        UpdateNetworkInterface a => PostBoot("network-interfaces", () => UpdateInterface(a.Update)),
        PutMmds a => Do(() => Mmds.Put(a.Data)),
        PatchMmds a => Do(() => Mmds.Patch(a.Patch)),
        GetMmds => VmmOutcome.Json(Mmds.ToJson()),
        StartMicroVm => Start(),
        SendCtrlAltDel => PostBoot("SendCtrlAltDel", _backend.SendCtrlAltDel),
        FlushMetrics => Do(_backend.FlushMetrics),
        Pause => PostBoot("vm", PauseVm),
        Resume => PostBoot("vm", ResumeVm),
        CreateSnapshot a => CreateSnapshotOf(a.Request),
        LoadSnapshot a => LoadSnapshotFrom(a.Request),
        UnsupportedResource a => VmmOutcome.Fault(
            $"{a.Resource} is a Firecracker feature that Kindling does not support; Kindling implements boot-source, machine-config, drives, network-interfaces, vsock, entropy, mmds, logger, metrics, serial, actions and vm"),
        _ => VmmOutcome.Fault($"unsupported action {action.GetType().Name}"),
    };

    private VmmOutcome PreBoot(string resource, Action apply)
    {
        if (State != VmmState.NotStarted)
        {
            return VmmOutcome.Fault($"The requested operation on {resource} is not supported after starting the microVM.");
        }

        apply();
        NoteBootSpecific(resource);
        return VmmOutcome.NoContent;
    }

    private VmmOutcome PostBoot(string resource, Action apply)
    {
        if (State == VmmState.NotStarted)
        {
            return VmmOutcome.Fault($"The requested operation on {resource} is not supported before starting the microVM.");
        }

        apply();
        return VmmOutcome.NoContent;
    }

    private static VmmOutcome Do(Action apply)
    {
        apply();
        return VmmOutcome.NoContent;
    }

    private static T Checked<T>(T value, Action<T> validate)
    {
        validate(value);
        return value;
    }

    private void Commit(VmConfig candidate) => _config = candidate;

    private void SetBootSource(BootSourceConfig boot)
    {
        VmConfigValidator.Validate(boot);
        Commit(_config with { BootSource = boot });
    }

    private void SetMachineConfig(MachineConfig machine)
    {
        VmConfigValidator.Validate(machine);
        Commit(_config with { MachineConfig = machine });
    }

    private static MachineConfig Merge(MachineConfig current, MachineConfigUpdate update) => current with
    {
        VcpuCount = update.VcpuCount ?? current.VcpuCount,
        MemSizeMib = update.MemSizeMib ?? current.MemSizeMib,
        Smt = update.Smt ?? current.Smt,
        TrackDirtyPages = update.TrackDirtyPages ?? current.TrackDirtyPages,
        HugePages = update.HugePages ?? current.HugePages,
        CpuTemplate = update.CpuTemplate ?? current.CpuTemplate,
    };

    private void InsertDrive(DriveConfig drive)
    {
        VmConfigValidator.Validate(drive);
        if (drive.IsRootDevice && _config.Drives.Any(d => d.IsRootDevice && d.DriveId != drive.DriveId))
        {
            throw new VmConfigException($"drives[{drive.DriveId}]: a root block device already exists; only one drive may have is_root_device=true");
        }

        Commit(_config with { Drives = ReplaceOrAppend(_config.Drives, drive, d => d.DriveId == drive.DriveId) });
    }

    private void InsertInterface(NetworkInterfaceConfig iface)
    {
        VmConfigValidator.Validate(iface);
        foreach (NetworkInterfaceConfig other in _config.NetworkInterfaces.Where(i => i.IfaceId != iface.IfaceId))
        {
            if (other.HostDevName == iface.HostDevName)
            {
                throw new VmConfigException(
                    $"network-interfaces[{iface.IfaceId}].host_dev_name \"{iface.HostDevName}\" is already used by iface_id \"{other.IfaceId}\"");
            }

            if (iface.GuestMac is not null && string.Equals(other.GuestMac, iface.GuestMac, StringComparison.OrdinalIgnoreCase))
            {
                throw new VmConfigException(
                    $"network-interfaces[{iface.IfaceId}].guest_mac {iface.GuestMac} is already used by iface_id \"{other.IfaceId}\"");
            }
        }

        Commit(_config with { NetworkInterfaces = ReplaceOrAppend(_config.NetworkInterfaces, iface, i => i.IfaceId == iface.IfaceId) });
    }

    private void SetLogger(LoggerConfig logger)
    {
        VmConfigValidator.Validate(logger);
        _backend.ConfigureLogger(logger);
        Commit(_config with { Logger = logger });
    }

    private void SetMetrics(MetricsConfig metrics)
    {
        VmConfigValidator.Validate(metrics);
        _backend.ConfigureMetrics(metrics);
        Commit(_config with { Metrics = metrics });
    }

    private void SetEntropy(EntropyConfig entropy)
    {
        if (entropy.RateLimiter is not null)
        {
            VmConfigValidator.Validate(entropy.RateLimiter, "entropy.rate_limiter");
        }

        Commit(_config with { Entropy = entropy });
    }

    private void SetMmdsConfig(MmdsConfig mmds)
    {
        VmConfigValidator.Validate(mmds, _config.NetworkInterfaces.Select(i => i.IfaceId).ToHashSet(StringComparer.Ordinal));
        ApplyMmdsConfig(mmds);
        Commit(_config with { MmdsConfig = mmds });
    }

    private void ApplyMmdsConfig(MmdsConfig mmds)
    {
        Mmds.Version = mmds.Version == "V1" ? MmdsVersion.V1 : MmdsVersion.V2;
        Mmds.ImdsCompat = mmds.ImdsCompat;
    }

    private void UpdateDrive(PartialDrive update)
    {
        DriveConfig drive = _config.Drives.FirstOrDefault(d => d.DriveId == update.DriveId)
            ?? throw new VmConfigException($"drives: no drive with drive_id \"{update.DriveId}\"; PATCH can only update a configured drive");
        if (update.PathOnHost is { Length: 0 })
        {
            throw new VmConfigException($"drives[{update.DriveId}].path_on_host is empty");
        }

        VmConfigValidator.RequirePath(update.PathOnHost, $"drives[{update.DriveId}].path_on_host");

        if (update.RateLimiter is not null)
        {
            VmConfigValidator.Validate(update.RateLimiter, $"drives[{update.DriveId}].rate_limiter");
        }

        _backend.UpdateBlockDevice(update.DriveId, update.PathOnHost, update.RateLimiter);
        DriveConfig updated = drive with
        {
            PathOnHost = update.PathOnHost ?? drive.PathOnHost,
            RateLimiter = update.RateLimiter ?? drive.RateLimiter,
        };
        Commit(_config with { Drives = ReplaceOrAppend(_config.Drives, updated, d => d.DriveId == update.DriveId) });
    }

    private void UpdateInterface(PartialNetworkInterface update)
    {
        NetworkInterfaceConfig iface = _config.NetworkInterfaces.FirstOrDefault(i => i.IfaceId == update.IfaceId)
            ?? throw new VmConfigException($"network-interfaces: no interface with iface_id \"{update.IfaceId}\"");
        if (update.RxRateLimiter is not null)
        {
            VmConfigValidator.Validate(update.RxRateLimiter, $"network-interfaces[{update.IfaceId}].rx_rate_limiter");
        }

        if (update.TxRateLimiter is not null)
        {
            VmConfigValidator.Validate(update.TxRateLimiter, $"network-interfaces[{update.IfaceId}].tx_rate_limiter");
        }

        _backend.UpdateNetworkRateLimiters(update.IfaceId, update.RxRateLimiter, update.TxRateLimiter);
        NetworkInterfaceConfig updated = iface with
        {
            RxRateLimiter = update.RxRateLimiter ?? iface.RxRateLimiter,
            TxRateLimiter = update.TxRateLimiter ?? iface.TxRateLimiter,
        };
        Commit(_config with { NetworkInterfaces = ReplaceOrAppend(_config.NetworkInterfaces, updated, i => i.IfaceId == update.IfaceId) });
    }

    private VmmOutcome Start()
    {
        if (State != VmmState.NotStarted)
        {
            return VmmOutcome.Fault("InstanceStart: the microVM is already running");
        }

        VmConfig effective = EffectiveConfig;
        VmConfigValidator.Validate(effective);
        _backend.Start(effective, Mmds);
        State = VmmState.Running;
        return VmmOutcome.NoContent;
    }

    private void PauseVm()
    {
        if (State == VmmState.Running)
        {
            _backend.Pause();
            State = VmmState.Paused;
        }
    }

    private void ResumeVm()
    {
        if (State == VmmState.Paused)
        {
            _backend.Resume();
            State = VmmState.Running;
        }
    }

    private static VmmOutcome Json<T>(T value) => VmmOutcome.Json(VmConfigJson.Serialize(value, ApiJson.Options));

    private static IReadOnlyList<T> ReplaceOrAppend<T>(IReadOnlyList<T> list, T item, Func<T, bool> same)
    {
        var result = new List<T>(list.Count + 1);
        bool replaced = false;
        foreach (T existing in list)
        {
            if (same(existing))
            {
                result.Add(item);
                replaced = true;
            }
            else
            {
                result.Add(existing);
            }
        }

        if (!replaced)
        {
            result.Add(item);
        }

        return result;
    }
}
