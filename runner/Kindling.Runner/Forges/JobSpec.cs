using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kindling.Runner.Forges;

/// <summary>
/// A job the guest agent runs step by step (Local forge, replay). GitHub jobs have no spec: the VM runs the
/// official runner with the JIT config instead. Stored as JSON in <c>jobs.spec_json</c>; written into MMDS per
/// images/guest/PROTOCOL.md.
/// </summary>
public sealed record JobSpec
{
    public required string Name { get; init; }
    public TimeSpan? Timeout { get; init; }
    public IReadOnlyList<StepSpec> Steps { get; init; } = [];
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();

    public string ToJson() => JsonSerializer.Serialize(this, JobSpecJson.Default.JobSpec);

    public static JobSpec FromJson(string json) =>
        JsonSerializer.Deserialize(json, JobSpecJson.Default.JobSpec) ?? throw new JsonException("empty job spec");
}

public sealed record StepSpec
{
    public required string Name { get; init; }
    public required string Run { get; init; }
    public string Shell { get; init; } = "sh";
    public string WorkingDirectory { get; init; } = "";
    public string If { get; init; } = "success()";
    public bool ContinueOnError { get; init; }
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(JobSpec))]
internal sealed partial class JobSpecJson : JsonSerializerContext;
