using System.Text.Json.Serialization;

namespace Kindling.Vmm.Config;

/// <summary>
/// Source-generated JSON metadata for the config file's records, so that reading vm.json at start-up needs no
/// reflection (and no Reflection.Emit, whose dynamic methods are JIT-compiled on every launch). Rules (strictness,
/// names) stay in <see cref="VmConfigJson.Options"/>; this only supplies the type metadata.
/// </summary>
[JsonSerializable(typeof(VmConfig))]
[JsonSerializable(typeof(BootSourceConfig))]
[JsonSerializable(typeof(MachineConfig))]
[JsonSerializable(typeof(DriveConfig))]
[JsonSerializable(typeof(NetworkInterfaceConfig))]
[JsonSerializable(typeof(VsockConfig))]
[JsonSerializable(typeof(EntropyConfig))]
[JsonSerializable(typeof(MmdsConfig))]
[JsonSerializable(typeof(LoggerConfig))]
[JsonSerializable(typeof(MetricsConfig))]
[JsonSerializable(typeof(SerialConfig))]
internal sealed partial class VmConfigJsonContext : JsonSerializerContext;
