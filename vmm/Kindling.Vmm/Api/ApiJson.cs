using System.Text.Json;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Api;

/// <summary>
/// The API's JSON options: <see cref="VmConfigJson.Options"/>' rules over the contract's source-generated metadata
/// (<see cref="VmmContractJsonContext"/>, which holds the API's own bodies as well as the config file's records), so
/// the first request of each kind (InstanceStart included) does not build reflection metadata while the caller waits.
/// </summary>
internal static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = VmConfigJson.CreateOptions(VmmContractJsonContext.Default);
}
