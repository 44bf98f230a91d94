using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Configuration;

/// <summary>
/// Checks the whole Kindling section at start; every failure names its configuration key and the fix. With the
/// configuration it was bound from, unknown keys and values of the wrong type are refused too (see
/// <see cref="ConfigurationSchema"/>); every credential the configuration names (token variables and files, App
/// keys, secrets from variables and files) is resolved here, through <paramref name="credentials"/>, so that a missing
/// one is reported with the rest instead of failing when a service is first built.
/// </summary>
public sealed class KindlingOptionsValidator(IConfiguration? configuration = null, CredentialSources? credentials = null) : IValidateOptions<KindlingOptions>
{
    private readonly CredentialSources _credentials = credentials ?? CredentialSources.System;

    /// <summary>The most vCPUs kindling-vmm gives a VM (machine-config.vcpu_count, as Firecracker's limit).</summary>
    public const int MaxPoolVcpus = 32;

    /// <summary>The bounds of Kindling:StepStopGrace.</summary>
    public static readonly TimeSpan MinStepStopGrace = TimeSpan.FromMilliseconds(100), MaxStepStopGrace = TimeSpan.FromMinutes(5);

    /// <summary>The least memory a pool's VM may have.</summary>
    public const int MinPoolMemoryMib = 64;

    /// <summary>
    /// <c>Pools:N:Warm</c>: not negative, and no more slots than VMs of the pool fit the host (each slot holds a VM's
    /// vCPUs and memory); it needs warm starts (<c>Launcher:Snapshots</c>) to mean anything.
    /// </summary>
    private static void ValidateWarm(KindlingOptions o, PoolOptions p, int i, Action<string, string> fail)
    {
        if (p.Warm < 0)
        {
            fail($"Pools:{i}:Warm", $"is {p.Warm}; must be 0 (no warm slots) or more");
            return;
        }

        int fits = Math.Min((int)Math.Floor(o.Host.Vcpus * o.Host.Oversubscription) / Math.Max(1, p.Vcpus), o.Host.MemoryMib / Math.Max(1, p.MemoryMib));
        if (p.Warm > fits)
        {
            fail($"Pools:{i}:Warm", $"is {p.Warm}, more than the {fits} VMs of {p.Vcpus} vCPUs/{p.MemoryMib} MiB the host holds (Host:Vcpus × Host:Oversubscription, Host:MemoryMib); lower it or raise the host's capacity");
        }
        else if (p.Warm > 0 && !o.Launcher.SnapshotsEnabled)
        {
            fail($"Pools:{i}:Warm", $"is {p.Warm} but warm starts are off (Launcher:Snapshots is false); turn them on or set Warm to 0");
        }
    }

    /// <summary>All pools' warm slots together must fit the host's memory (each holds its VM's memory).</summary>
    private static void ValidateWarmTotal(KindlingOptions o, Action<string, string> fail)
    {
        long total = o.Pools.Where(p => p.Warm > 0).Sum(p => (long)p.Warm * p.MemoryMib);
        int vcpus = o.Pools.Where(p => p.Warm > 0).Sum(p => p.Warm * p.Vcpus);
        if (total > o.Host.MemoryMib || vcpus > Math.Floor(o.Host.Vcpus * o.Host.Oversubscription))
        {
            fail("Pools", $"the warm slots of all pools (Pools:N:Warm) hold {vcpus} vCPUs and {total} MiB, more than the host has (Host:Vcpus × Host:Oversubscription, Host:MemoryMib); lower the pools' Warm");
        }
    }

    public ValidateOptionsResult Validate(string? name, KindlingOptions o)
    {
        List<string> errors = [];
        void Fail(string key, string message) => errors.Add($"{KindlingOptions.Section}:{key}: {message}");
        if (configuration is not null)
        {
            errors.AddRange(ConfigurationSchema.Check(configuration, _credentials.Variable));
        }

        if (string.IsNullOrWhiteSpace(o.StateDirectory))
        {
            Fail("StateDirectory", "is empty; set a directory for the job database and logs (e.g. /var/lib/kindling)");
        }

        if (o.Host.Vcpus < 1) Fail("Host:Vcpus", $"is {o.Host.Vcpus}; must be at least 1");
        if (o.Host.MemoryMib < 128) Fail("Host:MemoryMib", $"is {o.Host.MemoryMib}; must be at least 128");
        if (o.Host.Oversubscription is < 1.0 or > 16.0)
        {
            Fail("Host:Oversubscription", $"is {o.Host.Oversubscription}; must be between 1.0 and 16.0");
        }

        if (o.Pools.Count == 0) Fail("Pools", "is empty; configure at least one pool with the runs-on labels it serves");
        for (int i = 0; i < o.Pools.Count; i++)
        {
            PoolOptions p = o.Pools[i];
            if (p.Labels.Count == 0) Fail($"Pools:{i}:Labels", "is empty; list labels such as self-hosted, kindling, linux, x64");
            if (p.Vcpus is < 1 or > MaxPoolVcpus) Fail($"Pools:{i}:Vcpus", $"is {p.Vcpus}; must be 1..{MaxPoolVcpus} (the most vCPUs kindling-vmm gives a VM)");
            if (p.MemoryMib < MinPoolMemoryMib) Fail($"Pools:{i}:MemoryMib", $"is {p.MemoryMib}; must be at least {MinPoolMemoryMib}");
            if (p.Vcpus > o.Host.Vcpus * o.Host.Oversubscription || p.MemoryMib > o.Host.MemoryMib)
            {
                Fail($"Pools:{i}", $"a VM of {p.Vcpus} vCPUs/{p.MemoryMib} MiB never fits the host ({o.Host.Vcpus} vCPUs × {o.Host.Oversubscription}, {o.Host.MemoryMib} MiB)");
            }

            ValidateWarm(o, p, i, Fail);
        }

        ValidateWarmTotal(o, Fail);
        if (o.Tenants.Count == 0) Fail("Tenants", "is empty; configure at least one tenant");
        HashSet<string> names = new(StringComparer.OrdinalIgnoreCase);
        Dictionary<string, string> submitTokens = new(StringComparer.Ordinal);
        for (int i = 0; i < o.Tenants.Count; i++)
        {
            TenantOptions t = o.Tenants[i];
            string k = $"Tenants:{i}";
            if (string.IsNullOrWhiteSpace(t.Name)) Fail($"{k}:Name", "is empty; give every tenant a unique name");
            else if (!names.Add(t.Name)) Fail($"{k}:Name", $"'{t.Name}' is used by two tenants; names must be unique");
            if (t.Weight is <= 0 or > 1000) Fail($"{k}:Weight", $"is {t.Weight}; must be > 0 and ≤ 1000");
            if (t.Quota.MaxVms < 1) Fail($"{k}:Quota:MaxVms", $"is {t.Quota.MaxVms}; must be at least 1");
            if (t.Quota.Vcpus < 1) Fail($"{k}:Quota:Vcpus", $"is {t.Quota.Vcpus}; must be at least 1");
            if (t.Quota.MemoryMib < 64) Fail($"{k}:Quota:MemoryMib", $"is {t.Quota.MemoryMib}; must be at least 64");
            ValidateForge(t, k, Fail);
            ValidateSubmitToken(t.SubmitToken, o.Web, k, submitTokens, Fail);
            foreach ((string secret, SecretSourceOptions src) in t.Secrets)
            {
                int sources = (src.File is null ? 0 : 1) + (src.Env is null ? 0 : 1) + (src.Value is null ? 0 : 1);
                if (sources != 1) Fail($"{k}:Secrets:{secret}", "needs exactly one of File, Env, Value");
                else ValidateSecretSource(src, $"{k}:Secrets:{secret}", Fail);
                if (!IsSecretName(secret)) Fail($"{k}:Secrets:{secret}", "secret names are letters, digits and _ (not starting with a digit)");
            }
        }

        if (!Uri.TryCreate(o.Forge.GitHub.BaseUrl, UriKind.Absolute, out Uri? api) || api.Scheme is not ("https" or "http"))
        {
            Fail("Forge:GitHub:BaseUrl", $"'{o.Forge.GitHub.BaseUrl}' is not an http(s) URL; use https://api.github.com or https://HOST/api/v3");
        }

        if (o.Forge.GitHub.MaxPages < 1) Fail("Forge:GitHub:MaxPages", $"is {o.Forge.GitHub.MaxPages}; must be at least 1 (each page holds 100 items)");
        if (o.Forge.GitHub.InProgressRunWindow < TimeSpan.Zero) Fail("Forge:GitHub:InProgressRunWindow", $"is {o.Forge.GitHub.InProgressRunWindow}; must not be negative (e.g. 1.00:00:00; 00:00:00 polls queued runs only)");
        if (o.Forge.GitHub.WebhookMaxBodyBytes < 64 * 1024) Fail("Forge:GitHub:WebhookMaxBodyBytes", $"is {o.Forge.GitHub.WebhookMaxBodyBytes}; must be at least 65536 (a workflow_job event is a few KB)");
        ValidateStore(o, Fail);
        if (o.PollInterval < TimeSpan.FromMilliseconds(10)) Fail("PollInterval", $"is {o.PollInterval}; must be at least 00:00:00.010");
        if (o.JobTimeout <= TimeSpan.Zero) Fail("JobTimeout", $"is {o.JobTimeout}; must be positive (e.g. 06:00:00)");
        if (o.StepStopGrace < MinStepStopGrace || o.StepStopGrace > MaxStepStopGrace)
        {
            Fail("StepStopGrace", $"is {o.StepStopGrace}; must be from {MinStepStopGrace} to {MaxStepStopGrace} (the time a cancelled or timed-out step gets between TERM and KILL, e.g. 00:00:05)");
        }

        if (o.Launcher.Kind is not ("vmm" or "stub")) Fail("Launcher:Kind", $"'{o.Launcher.Kind}' is unknown; use vmm or stub");
        if (o.Launcher.GuestKernel.ToLowerInvariant() is not ("auto" or "debian" or "kindling"))
        {
            Fail("Launcher:GuestKernel", $"'{o.Launcher.GuestKernel}' is unknown; use auto, debian or kindling");
        }
        if (o.Launcher.Kind == "vmm" && o.Launcher.VmmPath is { Length: > 0 } vmm && vmm.Contains('/', StringComparison.Ordinal) && !File.Exists(vmm))
        {
            Fail("Launcher:VmmPath", $"'{vmm}' does not exist; name kindling-vmm's executable or its kindling-vmm.dll, or leave it empty to use the one beside kindling");
        }
                if (o.Launcher.ImagesDirectory is { Length: > 0 } images && !Directory.Exists(images))
        {
            Fail("Launcher:ImagesDirectory", $"'{images}' does not exist; point it at a directory with vmlinux and rootfs.ext4, or remove it to use the built images");
        }
        if (o.Launcher.BootTimeout <= TimeSpan.Zero)
        {
            Fail("Launcher:BootTimeout", $"'{o.Launcher.BootTimeout}' must be positive, e.g. 00:10:00 (how long a job's VM may take until its guest agent starts the job)");
        }

        if (o.Launcher.SnapshotsEnabled && o.Launcher.SnapshotBootTimeout <= TimeSpan.Zero)
        {
            Fail("Launcher:SnapshotBootTimeout", $"'{o.Launcher.SnapshotBootTimeout}' must be positive, e.g. 00:10:00 (how long a golden snapshot's VM may boot), or set Launcher:Snapshots to false");
        }

        if (o.Launcher.Jail.Enabled)
        {
            if (o.Launcher.Jail.Uid == 0 || o.Launcher.Jail.Gid == 0) Fail("Launcher:Jail:Uid", "the jail's uid and gid must not be 0 (root): pick an unused id such as 64500");
            if (!Path.IsPathRooted(o.Launcher.Jail.ChrootBase)) Fail("Launcher:Jail:ChrootBase", $"'{o.Launcher.Jail.ChrootBase}' is not an absolute path such as /srv/jailer");
            if (o.Launcher.Jail.MemoryOverheadMib < 64) Fail("Launcher:Jail:MemoryOverheadMib", $"is {o.Launcher.Jail.MemoryOverheadMib}; the VMM needs at least 64 MiB besides the guest's RAM");
            if (o.Launcher.Jail.PidsMax < 32) Fail("Launcher:Jail:PidsMax", $"is {o.Launcher.Jail.PidsMax}; the VMM's runtime needs at least 32 threads");
        }

        if (!Uri.TryCreate(o.Web.Url, UriKind.Absolute, out Uri? web) || web.Scheme != "http")
        {
            Fail("Web:Url", $"'{o.Web.Url}' is not an http URL such as http://127.0.0.1:8080");
        }

        ValidateWeb(o.Web, Fail);
        NetworkValidation.Validate(o, Fail);
        if (o.Images.Flavour.ToLowerInvariant() is not ("auto" or "minimal" or "debian" or "github"))
        {
            Fail("Images:Flavour", $"'{o.Images.Flavour}' is unknown; use auto (github when a tenant uses GitHub, else minimal), minimal, debian or github");
        }

        if (!o.Images.ActionsRunner.IsConfigured && o.Launcher.Kind == "vmm" && o.Launcher.ImagesDirectory is not { Length: > 0 }
            && o.Images.Flavour.ToLowerInvariant() is "auto" or "github" && o.Images.BaseFlavour(o.Tenants) == Kindling.Images.Rootfs.Flavour.Github)
        {
            // Jobs would boot the github image, which cannot be built without a pinned release: say so now, not at the first job.
            Fail("Images:ActionsRunner:Version", "GitHub jobs run the actions runner from the github image, which needs a pinned release: set "
                + "Kindling:Images:ActionsRunner:Version and Sha256 (from the release notes' linux-x64 line; config/kindling.json ships one), "
                + "or Kindling:Images:Flavour to another image for non-GitHub work");
        }

        if (o.Images.ActionsRunner.IsConfigured)
        {
            // Optional until the github image is built; once any of it is given, all of it must be usable.
            errors.AddRange(o.Images.ActionsRunner.ToSource().Problems());
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>A secret from a variable must be set now (the daemon's environment never changes); one from a file must be readable (it may be rotated later).</summary>
    private void ValidateSecretSource(SecretSourceOptions src, string key, Action<string, string> fail)
    {
        if (_credentials.ResolveSecret(src) is { Problem: { } problem, Key: var suffix })
        {
            fail(suffix is null ? key : $"{key}:{suffix}", problem);
        }
    }

    private void ValidateForge(TenantOptions t, string k, Action<string, string> fail)
    {
        switch (t.Forge.Kind)
        {
            case "local":
                return;
            case "github":
                break;
            default:
                fail($"{k}:Forge:Kind", $"'{t.Forge.Kind}' is unknown; use github or local");
                return;
        }

        if (t.Forge.Repositories.Count == 0)
        {
            fail($"{k}:Forge:Repositories", "is empty; list the owner/repo repositories whose queued jobs this tenant runs");
        }

        for (int r = 0; r < t.Forge.Repositories.Count; r++)
        {
            string[] parts = t.Forge.Repositories[r].Split('/');
            if (parts.Length != 2 || parts.Any(string.IsNullOrWhiteSpace))
            {
                fail($"{k}:Forge:Repositories:{r}", $"'{t.Forge.Repositories[r]}' is not owner/repo");
            }
        }

        CredentialOptions c = t.Credentials;
        // An empty string counts as not given: it is how a KINDLING__... variable takes a key of the file away.
        bool pat = !string.IsNullOrEmpty(c.Token) || !string.IsNullOrEmpty(c.TokenEnv) || !string.IsNullOrEmpty(c.TokenFile);
        bool app = c.AppId is not null || c.InstallationId is not null || !string.IsNullOrEmpty(c.PrivateKeyPath);
        if (pat == app)
        {
            fail($"{k}:Credentials", "give either a PAT (Token, TokenEnv or TokenFile) or a GitHub App (AppId, InstallationId, PrivateKeyPath)");
        }
        else if (app && (c.AppId is null || c.InstallationId is null || string.IsNullOrEmpty(c.PrivateKeyPath)))
        {
            fail($"{k}:Credentials", "a GitHub App needs all of AppId, InstallationId and PrivateKeyPath");
        }
        else if (app && _credentials.CheckAppKey(c.PrivateKeyPath!) is { } keyProblem)
        {
            fail($"{k}:Credentials:PrivateKeyPath", keyProblem);
        }
        else if (pat && _credentials.ResolvePat(c) is { Problem: { } patProblem, Key: { } patKey })
        {
            fail($"{k}:Credentials:{patKey}", patProblem);
        }
    }

    /// <summary>A tenant's submit token: long enough, and no other tenant's, admin's or read-only token (it would act as that one).</summary>
    private static void ValidateSubmitToken(string? token, WebOptions w, string k, Dictionary<string, string> seen, Action<string, string> fail)
    {
        if (token is not { Length: > 0 })
        {
            return;
        }

        if (token.Length < Web.WebAuth.MinTokenLength)
        {
            fail($"{k}:SubmitToken", $"is {token.Length} characters; use at least {Web.WebAuth.MinTokenLength} random characters (e.g. openssl rand -hex 32)");
        }
        else if (token == w.AdminToken || token == w.ReadOnlyToken)
        {
            fail($"{k}:SubmitToken", "is the admin or the read-only token; give the tenant a token of its own");
        }
        else if (!seen.TryAdd(token, k))
        {
            fail($"{k}:SubmitToken", $"is the same as Kindling:{seen[token]}:SubmitToken; give each tenant a token of its own");
        }
    }

    private static void ValidateWeb(WebOptions w, Action<string, string> fail)
    {
        if (w.AdminToken is { } admin && admin.Length < WebCredentialRules.MinTokenLength)
        {
            fail("Web:AdminToken", $"is {admin.Length} characters; use at least {WebCredentialRules.MinTokenLength} random characters (e.g. openssl rand -hex 32)");
        }

        if (w.ReadOnlyToken is { } ro && ro.Length < WebCredentialRules.MinTokenLength)
        {
            fail("Web:ReadOnlyToken", $"is {ro.Length} characters; use at least {WebCredentialRules.MinTokenLength} random characters");
        }

        HashSet<string> users = new(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < w.Users.Count; i++)
        {
            WebUserOptions u = w.Users[i];
            string k = $"Web:Users:{i}";
            if (string.IsNullOrWhiteSpace(u.Name)) fail($"{k}:Name", "is empty; give every login a unique name");
            else if (!users.Add(u.Name)) fail($"{k}:Name", $"'{u.Name}' is used twice; login names must be unique");
            if (!WebCredentialRules.IsPasswordHash(u.PasswordHash))
            {
                fail($"{k}:PasswordHash", "is not a password hash; create one with `kindling web hash-password` (never put the password itself here)");
            }

            if (u.Role is not (WebCredentialRules.AdminRole or WebCredentialRules.ReadOnlyRole))
            {
                fail($"{k}:Role", $"'{u.Role}' is unknown; use {WebCredentialRules.AdminRole} or {WebCredentialRules.ReadOnlyRole}");
            }
        }

        if (w.SessionLifetime <= TimeSpan.Zero) fail("Web:SessionLifetime", $"is {w.SessionLifetime}; must be positive (e.g. 08:00:00)");
        if (w.LoginFailuresBeforeLockout < 0) fail("Web:LoginFailuresBeforeLockout", $"is {w.LoginFailuresBeforeLockout}; must be 0 (no lockout) or more");
        if (w.LoginFailuresBeforeLockout > 0 && w.LoginLockout <= TimeSpan.Zero)
        {
            fail("Web:LoginLockout", $"is {w.LoginLockout}; must be positive (e.g. 00:05:00), or set Web:LoginFailuresBeforeLockout to 0");
        }
        if (w.LogPollInterval < TimeSpan.FromMilliseconds(10) || w.LogPollInterval > TimeSpan.FromSeconds(10))
        {
            fail("Web:LogPollInterval", $"is {w.LogPollInterval}; must be between 00:00:00.010 and 00:00:10");
        }
    }

    private static bool IsSecretName(string s) =>
        s.Length > 0 && !char.IsAsciiDigit(s[0]) && s.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_');

    /// <summary>The shortest host lease: heartbeats go out every third of it, and a busy host must still make them.</summary>
    public static readonly TimeSpan MinHostLeaseTimeout = TimeSpan.FromSeconds(1);

    private void ValidateStore(KindlingOptions o, Action<string, string> fail)
    {
        StoreOptions st = o.Store;
        if (!st.Kind.Equals("sqlite", StringComparison.OrdinalIgnoreCase) && !st.IsPostgres)
        {
            fail("Store:Kind", $"is '{st.Kind}'; must be sqlite (this host's own database, the default) or postgres (a fleet sharing one database)");
        }

        if (st.HostLeaseTimeout < MinHostLeaseTimeout || st.HostLeaseTimeout > TimeSpan.FromHours(1))
        {
            fail("Store:HostLeaseTimeout", $"is {st.HostLeaseTimeout}; must be between 00:00:01 and 01:00:00 (e.g. 00:00:30)");
        }

        if (st.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(st.ConnectionStringEnv))
            {
                fail("Store:ConnectionStringEnv", "is empty; name the environment variable that holds the PostgreSQL connection string (e.g. KINDLING_DATABASE)");
            }
            else if (_credentials.Variable(st.ConnectionStringEnv) is not { Length: > 0 } cs)
            {
                fail("Store:ConnectionStringEnv", $"names {st.ConnectionStringEnv}, which is not set; export it with an Npgsql connection string such as Host=db.example;Database=kindling;Username=kindling;Password=…");
            }
            else
            {
                try
                {
                    _ = new Npgsql.NpgsqlConnectionStringBuilder(cs);
                }
                catch (ArgumentException e)
                {
                    fail("Store:ConnectionStringEnv", $"the value of {st.ConnectionStringEnv} is not a PostgreSQL connection string ({e.Message}); use the form Host=…;Database=…;Username=…;Password=…");
                }
            }
        }

        if (o.HostName.Length > 0 && (o.HostName.Length > 253 || o.HostName.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            fail("HostName", $"is '{o.HostName}'; use a name without spaces of at most 253 characters (default: the machine's host name)");
        }
    }
}
