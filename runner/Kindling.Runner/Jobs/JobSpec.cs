using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kindling.Runner.Jobs;

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

    /// <summary>
    /// Host directory whose tree becomes the guest's <c>/workspace</c> (a replay's snapshot of the working tree or
    /// of HEAD); null for an empty workspace. Kept for the job's lifetime in the JobStore, so a rerun gets the same files.
    /// </summary>
    public string? Workspace { get; init; }

    /// <summary>
    /// Secrets the guest gets besides the tenant's own, by guest name, each built from the tenant's secrets and
    /// literal text (e.g. <c>AUTH = "Bearer " + secrets.TOKEN</c>). Only the recipe is stored; values never are.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<SecretPart>> SecretRefs { get; init; } = new Dictionary<string, IReadOnlyList<SecretPart>>();

    /// <summary>
    /// The user the steps run as (a replayed container job's <c>--user</c>: NAME, UID, NAME:GROUP or UID:GID, resolved
    /// against the guest's /etc/passwd and /etc/group at set-up); null: root.
    /// </summary>
    public string? User { get; init; }

    /// <summary>The guest's hostname for the job (a replayed container job's); null: the image's own.</summary>
    public string? Hostname { get; init; }

    /// <summary>Where a replayed job came from (workflow file, job id, matrix, image); informational.</summary>
    public ReplayOrigin? Origin { get; init; }

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
    /// <summary>The step's own limit (a workflow step's timeout-minutes): the guest ends the step when it is over; null: the job's limit only.</summary>
    public TimeSpan? Timeout { get; init; }
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
}

/// <summary>A piece of a derived secret: literal text, or the value of the tenant secret named <see cref="Secret"/>.</summary>
public sealed record SecretPart
{
    public string? Text { get; init; }
    public string? Secret { get; init; }

    public static SecretPart FromText(string text) => new() { Text = text };

    public static SecretPart FromSecret(string name) => new() { Secret = name };

    /// <summary>Adjacent text parts joined, empty text dropped.</summary>
    public static IReadOnlyList<SecretPart> Merge(IEnumerable<SecretPart> parts)
    {
        List<SecretPart> merged = [];
        foreach (SecretPart p in parts)
        {
            if (p.Text is { } t)
            {
                if (t.Length == 0)
                {
                    continue;
                }

                if (merged.Count > 0 && merged[^1].Text is { } prev)
                {
                    merged[^1] = FromText(prev + t);
                    continue;
                }
            }

            merged.Add(p);
        }

        return merged;
    }
}

/// <summary>The workflow a replayed job came from.</summary>
public sealed record ReplayOrigin
{
    public required string WorkflowFile { get; init; }
    public required string JobId { get; init; }
    public IReadOnlyDictionary<string, string> Matrix { get; init; } = new Dictionary<string, string>();
    /// <summary>Base image flavour (<c>minimal</c> or <c>debian</c>).</summary>
    public string Image { get; init; } = "minimal";
    /// <summary>What <see cref="JobSpec.Workspace"/> holds: <c>HEAD abc1234</c>, <c>working tree</c>, …</summary>
    public string WorkspaceSource { get; init; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(JobSpec))]
internal sealed partial class JobSpecJson : JsonSerializerContext;
