using System.Text.Json;
using System.Text.Json.Serialization;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Api;

/// <summary>
/// Source-generated JSON metadata for the API's own bodies, so the first request of each kind (InstanceStart
/// included) does not build reflection metadata while the caller waits.
/// </summary>
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
internal sealed partial class ApiJsonContext : JsonSerializerContext;

/// <summary>The API's JSON options: <see cref="VmConfigJson.Options"/>' rules, with the API's and the config's metadata.</summary>
internal static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = VmConfigJson.CreateOptions(ApiJsonContext.Default, VmConfigJsonContext.Default);
}
