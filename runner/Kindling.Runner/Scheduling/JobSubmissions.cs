using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Scheduling;

/// <summary>Why a submission was refused: the HTTP status it stands for.</summary>
public enum SubmitRefusal
{
    /// <summary>400: a field is missing or malformed.</summary>
    Invalid,

    /// <summary>403: the caller may not submit for that tenant.</summary>
    Forbidden,

    /// <summary>422: well-formed, but no pool, quota or host could ever run it.</summary>
    Unadmissible,

    /// <summary>422: the idempotency key was used before for a different job.</summary>
    KeyReused,
}

public sealed class SubmitRefusedException(SubmitRefusal refusal, string message) : Exception(message)
{
    public SubmitRefusal Refusal { get; } = refusal;
}

/// <summary>A submitted job: the JobStore's row, and whether this request made it (false: an idempotent repeat).</summary>
public sealed record Submission(JobRecord Job, bool Created);

/// <summary>
/// Turns a <see cref="SubmitRequest"/> into a queued job of the tenant, as a forge's poll would: the same
/// <see cref="NewJob"/>, the same label match against the pools, a size its quota and the host can hold, then the
/// dispatcher's usual queue → admit → VM. Every refusal names the field and the fix. With an idempotency key the
/// job's forge id is derived from (tenant, key), so the JobStore's one-row-per-forge-job rule makes a retried
/// request return the first job instead of making a second, on every host that shares the store.
/// </summary>
public sealed partial class JobSubmissions(IOptions<KindlingOptions> options, JobStore store)
{
    public const int MaxSteps = 256;
    public const int MaxNameLength = 200;
    public const int MaxKeyLength = 200;
    public const int MaxLabels = 32;
    public const int MinMemoryMib = 64;
    public const string DefaultRepository = "submitted";

    /// <summary>The header a client sets to make a retried POST safe (IETF draft-ietf-httpapi-idempotency-key-header).</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    private static readonly string[] Conditions = ["success()", "failure()", "always()", "cancelled()"];

    /// <summary>GitHub's shell: names onto the agent's (images/guest/PROTOCOL.md runs anything else as <c>V -c</c>).</summary>
    private static readonly Dictionary<string, string> Shells = new(StringComparer.Ordinal)
    {
        ["sh"] = "sh", ["bash"] = "bash", ["python"] = "python3", ["python3"] = "python3", ["pwsh"] = "pwsh",
    };

    /// <summary>
    /// Validates and queues <paramref name="r"/>. <paramref name="callerTenant"/> is the tenant of a tenant token (null
    /// for an admin); it may submit for that tenant only. Throws <see cref="SubmitRefusedException"/>.
    /// </summary>
    public Submission Submit(SubmitRequest r, string? idempotencyKey, string? callerTenant)
    {
        ArgumentNullException.ThrowIfNull(r);
        KindlingOptions o = options.Value;
        (TenantOptions tenant, int index) = Tenant(o, r.Tenant, callerTenant);
        string name = Text(r.Name, "name", required: true)!;
        string repository = Text(r.Repository, "repository", required: false) ?? DefaultRepository;
        if (repository.Any(char.IsWhiteSpace))
        {
            throw Invalid($"repository: '{repository}' has white space; use owner/name");
        }

        IReadOnlyList<string> labels = Labels(r.RunsOn);
        PoolOptions pool = LabelMatcher.Match(labels, o.Pools) ?? throw new SubmitRefusedException(SubmitRefusal.Unadmissible,
            $"runs_on: no pool serves [{string.Join(", ", labels)}]; the pools serve: " +
            string.Join("; ", o.Pools.Select(p => $"{p.Name} ({string.Join(", ", p.Labels)})")) + " (change runs-on, or add a pool under Kindling:Pools)");
        IReadOnlyDictionary<string, string> env = Env(r.Env, "env");
        TimeSpan? timeout = Timeout(r.TimeoutMinutes, o.JobTimeout);
        var spec = new JobSpec
        {
            Name = name,
            Timeout = timeout,
            Steps = Steps(r.Steps, timeout ?? o.JobTimeout),
            Env = env,
            SecretRefs = SecretRefs(r.Secrets, env, tenant, index),
        };
        (int vcpus, int memory) = Size(r, pool, tenant, index, o.Host);
        var job = new NewJob
        {
            Tenant = tenant.Name, Forge = SubmittedForge.KindName, ForgeJobId = ForgeJobId(tenant.Name, idempotencyKey), Repository = repository,
            Name = name, Labels = labels, SpecJson = spec.ToJson(), Vcpus = vcpus, MemoryMib = memory,
        };
        (JobRecord record, bool created) = store.Enqueue(job);
        if (!created && !Same(record, job))
        {
            throw new SubmitRefusedException(SubmitRefusal.KeyReused,
                $"{IdempotencyKeyHeader}: '{idempotencyKey}' was used for job {record.Id} with a different body; send a new key for a new job");
        }

        return new Submission(record, created);
    }

    /// <summary>The job's forge id: from (tenant, key) when a key is given, so a repeat finds the first job; else fresh.</summary>
    public static string ForgeJobId(string tenant, string? key)
    {
        if (key is null)
        {
            return SubmittedForge.NewJobId();
        }

        if (key.Length is 0 or > MaxKeyLength || key.Any(c => c is < '!' or > '~'))
        {
            throw Invalid($"{IdempotencyKeyHeader}: use 1 to {MaxKeyLength} printable ASCII characters without spaces (e.g. a UUID)");
        }

        return "sub-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(tenant + "\n" + key)))[..32];
    }

    private static (TenantOptions Tenant, int Index) Tenant(KindlingOptions o, string? asked, string? callerTenant)
    {
        if (callerTenant is not null && asked is not null && !string.Equals(asked, callerTenant, StringComparison.Ordinal))
        {
            throw new SubmitRefusedException(SubmitRefusal.Forbidden, $"tenant: this token submits for tenant {callerTenant} only, not '{asked}'");
        }

        string? name = asked ?? callerTenant ?? (o.Tenants.Count == 1 ? o.Tenants[0].Name : null);
        string known = string.Join(", ", o.Tenants.Select(t => t.Name));
        if (string.IsNullOrWhiteSpace(name))
        {
            throw Invalid($"tenant: required (the tenants are: {known})");
        }

        int i = o.Tenants.FindIndex(t => string.Equals(t.Name, name, StringComparison.Ordinal));
        return i >= 0 ? (o.Tenants[i], i) : throw Invalid($"tenant: '{name}' is not configured (Kindling:Tenants has: {known})");
    }

    private static string? Text(string? value, string field, bool required)
    {
        if (value is null || value.Trim().Length == 0)
        {
            return required ? throw Invalid($"{field}: required; give a non-empty string") : null;
        }

        if (value.Length > MaxNameLength)
        {
            throw Invalid($"{field}: is {value.Length} characters; use at most {MaxNameLength}");
        }

        return value.Any(char.IsControl) ? throw Invalid($"{field}: has control characters; use plain text") : value.Trim();
    }

    private static string[] Labels(IReadOnlyList<string>? runsOn)
    {
        if (runsOn is null || runsOn.Count == 0)
        {
            throw Invalid("runs_on: required; give the runs-on labels of a pool, e.g. [\"self-hosted\", \"kindling\"]");
        }

        if (runsOn.Count > MaxLabels)
        {
            throw Invalid($"runs_on: has {runsOn.Count} labels; use at most {MaxLabels}");
        }

        return [.. runsOn.Select((l, i) => Text(l, $"runs_on[{i}]", required: true)!)];
    }

    private static StepSpec[] Steps(IReadOnlyList<SubmitStep>? steps, TimeSpan jobTimeout)
    {
        if (steps is null || steps.Count == 0)
        {
            throw Invalid("steps: required; give at least one step with run: the commands to run");
        }

        if (steps.Count > MaxSteps)
        {
            throw Invalid($"steps: has {steps.Count} steps; use at most {MaxSteps}");
        }

        return [.. steps.Select((s, i) =>
        {
            string at = $"steps[{i}]";
            if (s is null)
            {
                throw Invalid($"{at}: is null; give an object with run:");
            }

            if (s.Run is null || s.Run.Trim().Length == 0)
            {
                throw Invalid($"{at}.run: required; give the commands the step runs");
            }

            string condition = s.If?.Trim() ?? Conditions[0];
            if (!Conditions.Contains(condition, StringComparer.Ordinal))
            {
                throw Invalid($"{at}.if: '{s.If}' is not a condition the guest agent evaluates; use one of {string.Join(", ", Conditions)}");
            }

            string shell = s.Shell?.Trim() ?? Shells["sh"];
            if (!Shells.TryGetValue(shell, out string? agentShell))
            {
                throw Invalid($"{at}.shell: '{s.Shell}' is not supported; use one of {string.Join(", ", Shells.Keys)}");
            }

            string? wd = s.WorkingDirectory;
            if (wd is not null && wd.Any(char.IsControl))
            {
                throw Invalid($"{at}.working_directory: has control characters");
            }

            if (s.TimeoutMinutes is { } m && !(m > 0 && double.IsFinite(m) && m <= jobTimeout.TotalMinutes))
            {
                throw Invalid($"{at}.timeout_minutes: {m} is out of range; use more than 0 and at most the job's timeout_minutes ({jobTimeout.TotalMinutes})");
            }

            return new StepSpec
            {
                Name = Text(s.Name, $"{at}.name", required: false) ?? "Run " + s.Run.Trim().Split('\n')[0].Trim(),
                Run = s.Run, Shell = agentShell, WorkingDirectory = wd ?? "", If = condition, ContinueOnError = s.ContinueOnError ?? false,
                Env = Env(s.Env, $"{at}.env"), Timeout = s.TimeoutMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : null,
            };
        })];
    }

    private static Dictionary<string, string> Env(IReadOnlyDictionary<string, string>? env, string field)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string k, string? v) in env ?? new Dictionary<string, string>())
        {
            if (!EnvName().IsMatch(k))
            {
                throw Invalid($"{field}.{k}: not an environment variable name; use letters, digits and _ (not starting with a digit)");
            }

            result[k] = v ?? throw Invalid($"{field}.{k}: is null; give a string");
        }

        return result;
    }

    private static Dictionary<string, IReadOnlyList<SecretPart>> SecretRefs(
        IReadOnlyDictionary<string, IReadOnlyList<SecretPart>>? secrets, IReadOnlyDictionary<string, string> env, TenantOptions tenant, int index)
    {
        var refs = new Dictionary<string, IReadOnlyList<SecretPart>>(StringComparer.Ordinal);
        foreach ((string name, IReadOnlyList<SecretPart>? parts) in secrets ?? new Dictionary<string, IReadOnlyList<SecretPart>>())
        {
            string at = $"secrets.{name}";
            if (!EnvName().IsMatch(name))
            {
                throw Invalid($"{at}: not an environment variable name; use letters, digits and _ (not starting with a digit)");
            }

            if (env.ContainsKey(name))
            {
                throw Invalid($"{at}: env.{name} is set too; the guest gives secrets to the whole job and env would hide this one: use another name");
            }

            if (parts is null || parts.Count == 0)
            {
                throw Invalid($"{at}: give a list of parts, e.g. [{{\"text\": \"Bearer \"}}, {{\"secret\": \"TOKEN\"}}]");
            }

            for (int i = 0; i < parts.Count; i++)
            {
                SecretPart? p = parts[i];
                if (p is null || (p.Text is null) == (p.Secret is null))
                {
                    throw Invalid($"{at}[{i}]: give exactly one of text (literal) or secret (the name of one of the tenant's secrets)");
                }

                if (p.Secret is { } s && !tenant.Secrets.ContainsKey(s))
                {
                    throw Invalid($"{at}[{i}].secret: tenant {tenant.Name} has no secret '{s}' " +
                                  $"(it has: {(tenant.Secrets.Count == 0 ? "none" : string.Join(", ", tenant.Secrets.Keys.Order(StringComparer.Ordinal)))}); " +
                                  $"add it under Kindling:Tenants:{index}:Secrets");
                }
            }

            refs[name] = SecretPart.Merge(parts);
        }

        return refs;
    }

    private static TimeSpan? Timeout(double? minutes, TimeSpan max)
    {
        if (minutes is not { } m)
        {
            return null;
        }

        return m <= 0 || double.IsNaN(m) || m > max.TotalMinutes
            ? throw Invalid($"timeout_minutes: {m} is out of range; use more than 0 and at most {max.TotalMinutes} (the runner's Kindling:JobTimeout)")
            : TimeSpan.FromMinutes(m);
    }

    private static (int Vcpus, int MemoryMib) Size(SubmitRequest r, PoolOptions pool, TenantOptions tenant, int index, HostOptions host)
    {
        int vcpus = r.Vcpus ?? pool.Vcpus;
        int memory = r.MemoryMib ?? pool.MemoryMib;
        if (vcpus < 1)
        {
            throw Invalid($"vcpus: {vcpus} is out of range; use at least 1");
        }

        if (memory < MinMemoryMib)
        {
            throw Invalid($"memory_mib: {memory} is out of range; use at least {MinMemoryMib}");
        }

        var capacity = new HostCapacity(host.Vcpus, host.MemoryMib, host.Oversubscription);
        string never = "; the job could never start";
        if (vcpus > tenant.Quota.Vcpus)
        {
            throw new SubmitRefusedException(SubmitRefusal.Unadmissible,
                $"vcpus: {vcpus} is more than tenant {tenant.Name}'s quota of {tenant.Quota.Vcpus} (Kindling:Tenants:{index}:Quota:Vcpus){never}");
        }

        if (memory > tenant.Quota.MemoryMib)
        {
            throw new SubmitRefusedException(SubmitRefusal.Unadmissible,
                $"memory_mib: {memory} is more than tenant {tenant.Name}'s quota of {tenant.Quota.MemoryMib} (Kindling:Tenants:{index}:Quota:MemoryMib){never}");
        }

        if (vcpus > capacity.VcpuLimit || memory > capacity.MemoryMib)
        {
            throw new SubmitRefusedException(SubmitRefusal.Unadmissible,
                $"{(vcpus > capacity.VcpuLimit ? "vcpus" : "memory_mib")}: the host holds at most {capacity.VcpuLimit} vCPUs and {capacity.MemoryMib} MiB per job " +
                $"(Kindling:Host){never}");
        }

        return (vcpus, memory);
    }

    /// <summary>Whether an existing job is the one this request describes (an idempotent repeat).</summary>
    private static bool Same(JobRecord j, NewJob n) =>
        j.Tenant == n.Tenant && j.Name == n.Name && j.Repository == n.Repository && j.Labels.SequenceEqual(n.Labels, StringComparer.Ordinal) &&
        j.SpecJson == n.SpecJson && j.Vcpus == n.Vcpus && j.MemoryMib == n.MemoryMib;

    private static SubmitRefusedException Invalid(string message) => new(SubmitRefusal.Invalid, message);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvName();
}
