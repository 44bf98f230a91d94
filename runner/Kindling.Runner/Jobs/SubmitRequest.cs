using System.Text.Json.Serialization;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The body of <c>POST /api/jobs</c> (snake_case JSON): a job given as its steps, queued for the tenant as a forge's
/// job would be. One contract for the daemon and <c>kindling submit</c>. Unknown fields are refused, naming them.
/// </summary>
public sealed record SubmitRequest
{
    /// <summary>The tenant whose quota, secrets and egress the job gets; a tenant token's own tenant when omitted.</summary>
    public string? Tenant { get; init; }
    /// <summary>Informational (<c>owner/name</c>); shown and filtered on in the jobs list.</summary>
    public string? Repository { get; init; }
    public string? Name { get; init; }
    /// <summary>runs-on labels: one pool must serve all of them (as a forge job's).</summary>
    public IReadOnlyList<string>? RunsOn { get; init; }
    public IReadOnlyList<SubmitStep>? Steps { get; init; }
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    /// <summary>
    /// Guest environment names whose values come from the tenant's secrets, by reference: each is a list of parts,
    /// literal <c>text</c> or the name of a tenant <c>secret</c>. Values are never sent; the daemon reads them at job start.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<SecretPart>>? Secrets { get; init; }
    /// <summary>The job's time limit (default the runner's Kindling:JobTimeout, which is also the most it may ask for).</summary>
    public double? TimeoutMinutes { get; init; }
    /// <summary>The VM's size; defaults to the size of the pool that serves <see cref="RunsOn"/>.</summary>
    public int? Vcpus { get; init; }
    public int? MemoryMib { get; init; }

    /// <summary>The fields a job has, for the unknown-field message. There is no workspace: the daemon never reads a client's paths.</summary>
    public static readonly string[] Fields = ["tenant", "repository", "name", "runs_on", "steps", "env", "secrets", "timeout_minutes", "vcpus", "memory_mib"];
}

/// <summary>One step of a <see cref="SubmitRequest"/>: what the guest agent runs (images/guest/PROTOCOL.md).</summary>
public sealed record SubmitStep
{
    public string? Name { get; init; }
    public string? Run { get; init; }
    /// <summary>sh (default), bash, python or pwsh, as GitHub names them.</summary>
    public string? Shell { get; init; }
    public string? WorkingDirectory { get; init; }
    /// <summary>success() (default), failure(), always() or cancelled(): the conditions the guest agent evaluates.</summary>
    public string? If { get; init; }
    public bool? ContinueOnError { get; init; }
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    /// <summary>The step's own limit (a workflow step's timeout-minutes): the guest ends the step when it is over; at most the job's.</summary>
    public double? TimeoutMinutes { get; init; }

    public static readonly string[] Fields = ["name", "run", "shell", "working_directory", "if", "continue_on_error", "env", "timeout_minutes"];
}

/// <summary>The answer to a submission: the job, where to look at it, and whether it was an idempotent repeat.</summary>
public sealed record SubmitResponse(long Id, string Tenant, string Name, string State, string Url, string LogUrl, bool Replayed);

/// <summary>An error body of the API: <c>{"fault_message": ...}</c>, naming the field and the fix.</summary>
public sealed record FaultResponse(string FaultMessage);

/// <summary>The request, strictly: an unknown field is refused (a misspelt <c>run_on</c> must not be dropped silently).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SubmitRequest))]
public sealed partial class SubmitJson : JsonSerializerContext;

/// <summary>The answers, leniently: a newer daemon may add fields.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SubmitResponse))]
[JsonSerializable(typeof(FaultResponse))]
public sealed partial class SubmitReplyJson : JsonSerializerContext;
