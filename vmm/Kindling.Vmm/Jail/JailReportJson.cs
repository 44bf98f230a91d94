using System.Text.Json.Serialization;

namespace Kindling.Vmm.Jail;

/// <summary>JSON for the jail's debug report (source-generated: no reflection inside the jail).</summary>
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(string))]
internal sealed partial class JailReportJson : JsonSerializerContext;
