using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kindling.Vmm.Contract;

/// <summary>
/// Source-generated JSON metadata for every record of the contract, so that neither side needs reflection: the VMM
/// reads vm.json and API bodies with it (NativeAOT has no reflection fallback; the VMM layers its strict rules on top
/// in <c>VmConfigJson.Options</c>), and the runner writes them with it
/// (<c>JsonSerializer.Serialize(config, VmmContractJsonContext.Default.VmConfig)</c>). The options here are what a
/// writer needs: absent (null) members are left out, as Firecracker's serde does.
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
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
[JsonSerializable(typeof(MachineConfigUpdate))]
[JsonSerializable(typeof(PartialDrive))]
[JsonSerializable(typeof(PartialNetworkInterface))]
[JsonSerializable(typeof(InstanceActionInfo))]
[JsonSerializable(typeof(VmStateUpdate))]
[JsonSerializable(typeof(InstanceInfo))]
[JsonSerializable(typeof(VersionInfo))]
[JsonSerializable(typeof(ApiFault))]
[JsonSerializable(typeof(SnapshotCreateParams))]
[JsonSerializable(typeof(SnapshotLoadParams))]
public sealed partial class VmmContractJsonContext : JsonSerializerContext;
