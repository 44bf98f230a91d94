using System.Text.Json.Nodes;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Api;

/// <summary>
/// One request to the VMM loop. The API thread only parses HTTP into these records and sends them over a channel
/// (<see cref="VmmActionChannel"/>); <see cref="VmmController"/> on the VMM loop owns the state and applies them.
/// </summary>
public abstract record VmmAction;

public sealed record GetInstanceInfo : VmmAction;

public sealed record GetVersion : VmmAction;

public sealed record GetVmConfig : VmmAction;

public sealed record GetMachineConfig : VmmAction;

public sealed record ConfigureBootSource(BootSourceConfig BootSource) : VmmAction;

public sealed record PutMachineConfig(MachineConfig MachineConfig) : VmmAction;

public sealed record PatchMachineConfig(MachineConfigUpdate Update) : VmmAction;

public sealed record InsertBlockDevice(DriveConfig Drive) : VmmAction;

public sealed record UpdateBlockDevice(PartialDrive Update) : VmmAction;

public sealed record InsertNetworkDevice(NetworkInterfaceConfig Interface) : VmmAction;

public sealed record UpdateNetworkInterface(PartialNetworkInterface Update) : VmmAction;

public sealed record SetVsockDevice(VsockConfig Vsock) : VmmAction;

public sealed record SetEntropyDevice(EntropyConfig Entropy) : VmmAction;

public sealed record ConfigureLogger(LoggerConfig Logger) : VmmAction;

public sealed record ConfigureMetrics(MetricsConfig Metrics) : VmmAction;

public sealed record ConfigureSerial(SerialConfig Serial) : VmmAction;

/// <summary>PUT /mmds: replaces the whole data store.</summary>
public sealed record PutMmds(JsonNode? Data) : VmmAction;

/// <summary>PATCH /mmds: an RFC 7396 JSON merge patch.</summary>
public sealed record PatchMmds(JsonNode? Patch) : VmmAction;

public sealed record GetMmds : VmmAction;

public sealed record SetMmdsConfig(MmdsConfig Config) : VmmAction;

public sealed record StartMicroVm : VmmAction;

public sealed record SendCtrlAltDel : VmmAction;

public sealed record FlushMetrics : VmmAction;

public sealed record Pause : VmmAction;

public sealed record Resume : VmmAction;

/// <summary>A Firecracker resource Kindling does not implement (balloon, snapshots, ...): always refused with a fault.</summary>
public sealed record UnsupportedResource(string Resource) : VmmAction;
