using Kindling.Runner.Network;

namespace Kindling.Runner.Configuration;

/// <summary>The <c>Kindling</c> section of config/kindling.json (overridable with <c>KINDLING__*</c> variables).</summary>
public sealed class KindlingOptions
{
    public const string Section = "Kindling";

    /// <summary>Job database, logs, per-job work directories. Default ~/.local/share/kindling or $KINDLING_STATE.</summary>
    public string StateDirectory { get; set; } = "";
    public HostOptions Host { get; set; } = new();
    public List<PoolOptions> Pools { get; set; } = [];
    public List<TenantOptions> Tenants { get; set; } = [];
    public ForgeOptions Forge { get; set; } = new();
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Per-job limit when the job does not say (GitHub's default is 6 hours).</summary>
    public TimeSpan JobTimeout { get; set; } = TimeSpan.FromHours(6);
    /// <summary>
    /// A step the guest ends (cancelled, or over its timeout-minutes) gets TERM, then KILL this long after if its
    /// processes are still there (GitHub: SIGINT, 7.5 s, SIGTERM, 2.5 s, then kill). From 100 ms to 5 minutes.
    /// </summary>
    public TimeSpan StepStopGrace { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>A JIT runner GitHub never gave a job to is removed after this long.</summary>
    public TimeSpan IdleRunnerTimeout { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>How often the reaper looks for leftovers after the start-up pass.</summary>
    public TimeSpan ReapInterval { get; set; } = TimeSpan.FromMinutes(1);
    public LauncherOptions Launcher { get; set; } = new();
    public WebOptions Web { get; set; } = new();
    public ImagesOptions Images { get; set; } = new();
    public NetworkOptions Network { get; set; } = new();
    /// <summary>Where jobs are kept: this host's SQLite file (default) or the fleet's shared PostgreSQL.</summary>
    public StoreOptions Store { get; set; } = new();
    /// <summary>This daemon's name in the fleet (hosts table, job claims); default: the machine's host name.</summary>
    public string HostName { get; set; } = "";

    /// <summary><see cref="HostName"/>, or the machine's host name when it is not set.</summary>
    public string EffectiveHostName => HostName is { Length: > 0 } h ? h : Environment.MachineName;
}

/// <summary>
/// The job store. <c>sqlite</c>: one host's database in the state directory. <c>postgres</c>: several daemons share one
/// PostgreSQL database (a fleet); the connection string comes from the environment variable <see cref="ConnectionStringEnv"/>
/// (an Npgsql connection string such as <c>Host=db;Database=kindling;Username=kindling;Password=…</c>).
/// </summary>
public sealed class StoreOptions
{
    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public string Kind { get; set; } = "sqlite";
    /// <summary>postgres only: the environment variable holding the connection string (kept out of config files).</summary>
    public string ConnectionStringEnv { get; set; } = "KINDLING_DATABASE";
    /// <summary>
    /// A host whose last heartbeat is older than this is dead: a live host re-queues its jobs that had not started,
    /// fails those that ran and removes their forge runners. Heartbeats are sent every third of it.
    /// </summary>
    public TimeSpan HostLeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool IsPostgres => Kind.Equals("postgres", StringComparison.OrdinalIgnoreCase);
}

/// <summary>What the guest images are built from.</summary>
public sealed class ImagesOptions
{
    /// <summary>
    /// The base image jobs boot: <c>auto</c> (<c>github</c> when a tenant's forge is GitHub, its jobs run the
    /// official actions runner; else <c>minimal</c>), <c>minimal</c>, <c>debian</c> or <c>github</c>.
    /// </summary>
    public string Flavour { get; set; } = "auto";

    public ActionsRunnerOptions ActionsRunner { get; set; } = new();

    /// <summary>The flavour <see cref="Flavour"/> names for these tenants.</summary>
    public Kindling.Images.Rootfs.Flavour BaseFlavour(IEnumerable<TenantOptions> tenants) =>
        Flavour.Equals("auto", StringComparison.OrdinalIgnoreCase)
            ? tenants.Any(t => t.Forge.Kind.Equals("github", StringComparison.OrdinalIgnoreCase)) ? Kindling.Images.Rootfs.Flavour.Github : Kindling.Images.Rootfs.Flavour.Minimal
            : Kindling.Images.Rootfs.FlavourNames.Parse(Flavour);
}

/// <summary>
/// The official actions/runner release put into the <c>github</c> image: its version and the SHA-256 of
/// actions-runner-linux-x64-&lt;Version&gt;.tar.gz (both required for that flavour), from <see cref="Url"/> (default:
/// GitHub's release download) or a local <see cref="File"/>. See <see cref="Kindling.Images.ActionsRunner.ActionsRunnerSource"/>.
/// </summary>
public sealed class ActionsRunnerOptions
{
    /// <summary>The release, e.g. 2.321.0 (without the 'v').</summary>
    public string Version { get; set; } = "";
    /// <summary>The SHA-256 of the linux-x64 tarball, as published in the release notes.</summary>
    public string Sha256 { get; set; } = "";
    /// <summary>Where to download it; <c>{Version}</c> is replaced. Empty: GitHub's release download for linux-x64.</summary>
    public string Url { get; set; } = "";
    /// <summary>A local copy of the tarball to use instead of downloading (for hosts without internet).</summary>
    public string File { get; set; } = "";

    /// <summary>Whether any of the settings is given (only then are they checked at start).</summary>
    public bool IsConfigured => Version.Length > 0 || Sha256.Length > 0 || Url.Length > 0 || File.Length > 0;

    public Kindling.Images.ActionsRunner.ActionsRunnerSource ToSource() =>
        new(Version, Sha256, Url is { Length: > 0 } ? Url : null, File is { Length: > 0 } ? File : null);
}

public sealed class HostOptions
{
    public int Vcpus { get; set; } = Environment.ProcessorCount;
    public int MemoryMib { get; set; } = 4096;
    /// <summary>vCPUs may be committed up to Vcpus × Oversubscription; memory is never oversubscribed.</summary>
    public double Oversubscription { get; set; } = 1.0;
}

/// <summary>A class of VMs and the runs-on labels it serves.</summary>
public sealed class PoolOptions
{
    public string Name { get; set; } = "";
    public List<string> Labels { get; set; } = [];
    public int Vcpus { get; set; } = 2;
    public int MemoryMib { get; set; } = 2048;

    /// <summary>
    /// Warm slots: this many VMs of the pool kept restored from its golden snapshot and paused, each with its own
    /// overlay and TAP, so that a job of the pool starts by resuming one (Launch/Snapshots/WarmPool.cs). Each holds
    /// its VM's memory and counts against the host's capacity (not a tenant's) until a job takes it. 0: none.
    /// </summary>
    public int Warm { get; set; }
}

public sealed class TenantOptions
{
    public string Name { get; set; } = "";
    public TenantForgeOptions Forge { get; set; } = new();
    public CredentialOptions Credentials { get; set; } = new();
    /// <summary>Secret name → where its value comes from. Only this tenant's VMs see them.</summary>
    public Dictionary<string, SecretSourceOptions> Secrets { get; set; } = [];
    public QuotaOptions Quota { get; set; } = new();
    public double Weight { get; set; } = 1.0;
    /// <summary>Where this tenant's VMs may connect (default: the internet's public addresses).</summary>
    public EgressOptions Egress { get; set; } = new();
    /// <summary>A bearer token that may submit jobs for this tenant only (<c>POST /api/jobs</c>, <c>kindling submit</c>) and follow them.</summary>
    public string? SubmitToken { get; set; }
    public string? SubmitTokenEnv { get; set; }
}

public sealed class TenantForgeOptions
{
    /// <summary><c>github</c> or <c>local</c>.</summary>
    public string Kind { get; set; } = "github";
    /// <summary><c>owner/repo</c> entries polled for queued runs.</summary>
    public List<string> Repositories { get; set; } = [];
    /// <summary>When set, JIT runners are registered at the organization instead of per repository.</summary>
    public string? Organization { get; set; }
}

/// <summary>A PAT (inline, from a file or an environment variable) or a GitHub App installation.</summary>
public sealed class CredentialOptions
{
    public string? Token { get; set; }
    public string? TokenEnv { get; set; }
    public string? TokenFile { get; set; }
    public long? AppId { get; set; }
    public long? InstallationId { get; set; }
    public string? PrivateKeyPath { get; set; }
}

/// <summary>Exactly one of File, Env, Value.</summary>
public sealed class SecretSourceOptions
{
    public string? File { get; set; }
    public string? Env { get; set; }
    public string? Value { get; set; }
}

public sealed class QuotaOptions
{
    public int MaxVms { get; set; } = 4;
    public int Vcpus { get; set; } = 8;
    public int MemoryMib { get; set; } = 8192;
}

public sealed class ForgeOptions
{
    public GitHubOptions GitHub { get; set; } = new();
}

public sealed class GitHubOptions
{
    /// <summary>https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server.</summary>
    public string BaseUrl { get; set; } = "https://api.github.com";
    /// <summary>Env variable holding the webhook secret; the webhook receiver is off when unset.</summary>
    public string? WebhookSecretEnv { get; set; }
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public int MaxRetries { get; set; } = 5;
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// The most pages (of 100) one list request follows through <c>Link: rel="next"</c>; a longer list is cut there
    /// with a warning in the log.
    /// </summary>
    public int MaxPages { get; set; } = 50;
    /// <summary>
    /// In-progress runs created within this window are polled for queued jobs (a job that waits on <c>needs:</c>
    /// becomes queued while its run is in progress); older runs are reached through the <c>workflow_job</c> webhook.
    /// </summary>
    public TimeSpan InProgressRunWindow { get; set; } = TimeSpan.FromHours(24);
    /// <summary>The largest webhook body accepted (GitHub caps payloads at 25 MB; a workflow_job event is a few KB).</summary>
    public long WebhookMaxBodyBytes { get; set; } = 4 * 1024 * 1024;
}

public sealed class LauncherOptions
{
    /// <summary>
    /// <c>vmm</c> (spawn kindling-vmm) or <c>stub</c> (simulated VMs, for tests and benchmarks: the job's steps run
    /// on this host, unsandboxed, as the runner's user; a GitHub job needs an actions runner in the stand-in image).
    /// </summary>
    public string Kind { get; set; } = "vmm";
    /// <summary>
    /// kindling-vmm: its executable (native NativeAOT, self-contained or framework-dependent) or its kindling-vmm.dll
    /// (started with dotnet); when empty, the kindling-vmm beside kindling (a native one published there replaces the
    /// managed build's), else the one on PATH.
    /// </summary>
    public string VmmPath { get; set; } = "";
    /// <summary>Create a TAP per VM (needs root) and give the guest network + MMDS on it.</summary>
    public bool Network { get; set; } = true;
    /// <summary>
    /// The guest kernel: <c>auto</c> (Debian's cloud kernel on hardware KVM, Kindling's own build where the host's
    /// KVM emulates guest kernel code, as <c>kindling-vmm probe-kvm</c> tells), <c>debian</c> or <c>kindling</c>.
    /// </summary>
    public string GuestKernel { get; set; } = "auto";
    /// <summary>
    /// A directory with the guest images to boot instead of those Kindling.Images builds: <c>vmlinux</c>,
    /// <c>rootfs.ext4</c>, optionally <c>initramfs.cpio</c> and <c>boot-args</c> (the kernel command line).
    /// </summary>
    public string? ImagesDirectory { get; set; }
    /// <summary>How kindling-vmm is jailed (one jail per VM, as Firecracker's jailer does).</summary>
    public JailOptions Jail { get; set; } = new();
    /// <summary>
    /// Warm starts (issue 21): restore each job's VM from a golden snapshot of its image, kernel, CPU template,
    /// vCPUs and memory (taken in the background by the first job of its kind, kept under the image store), and
    /// cold-boot when there is none or it is refused. Unset: on for <c>vmm</c>, off for <c>stub</c> (whose tests
    /// turn it on where they mean it).
    /// </summary>
    public bool? Snapshots { get; set; }
    /// <summary>
    /// How long a job's VM may take from its VMM's start (or a warm slot's resume) until the guest agent starts the
    /// job; past it the job fails and its VM is ended, instead of holding its room until the job's own time limit.
    /// </summary>
    public TimeSpan BootTimeout { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>How long a golden snapshot's VM may take to boot until its agent waits for a job.</summary>
    public TimeSpan SnapshotBootTimeout { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>Whether warm starts are on (<see cref="Snapshots"/>, or its default for <see cref="Kind"/>).</summary>
    public bool SnapshotsEnabled => Snapshots ?? Kind == "vmm";
    /// <summary>Stub launcher only: how long the simulated job runs.</summary>
    public TimeSpan StubJobDuration { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Stub launcher only: how long the simulated guest takes to boot (before job-start).</summary>
    public TimeSpan StubBootDelay { get; set; } = TimeSpan.Zero;
}

/// <summary>
/// The admin page and JSON API. Nobody gets in anonymously (except <c>/healthz</c>): a bearer token or a login.
/// With no admin token and no admin user configured, one token is generated into STATE/admin-token (mode 0600).
/// </summary>
public sealed class WebOptions
{
    /// <summary>Where to listen; loopback by default (put a TLS-terminating proxy in front for remote use).</summary>
    public string Url { get; set; } = "http://127.0.0.1:8080";
    /// <summary>The admin bearer token (also accepted as the password of the login form).</summary>
    public string? AdminToken { get; set; }
    public string? AdminTokenEnv { get; set; }
    /// <summary>A bearer token that may read everything but change nothing (for dashboards and Prometheus).</summary>
    public string? ReadOnlyToken { get; set; }
    public string? ReadOnlyTokenEnv { get; set; }
    /// <summary>Logins for the browser; passwords are stored only as hashes (<c>kindling web hash-password</c>).</summary>
    public List<WebUserOptions> Users { get; set; } = [];
    /// <summary>How long a browser login lasts (sliding).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);
    /// <summary>Failed sign-ins in a row from one address before it is locked out of the login form (0: never).</summary>
    public int LoginFailuresBeforeLockout { get; set; } = 5;
    /// <summary>How long a locked-out address must wait before it may sign in again.</summary>
    public TimeSpan LoginLockout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How often a live log tail looks for new output when it has caught up.</summary>
    public TimeSpan LogPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}

public sealed class WebUserOptions
{
    public string Name { get; set; } = "";
    /// <summary>ASP.NET Core Identity's PBKDF2 hash (base64), as printed by <c>kindling web hash-password</c>.</summary>
    public string PasswordHash { get; set; } = "";
    /// <summary><c>admin</c> (may act) or <c>read-only</c> (may look).</summary>
    public string Role { get; set; } = "read-only";
}

/// <summary>
/// The jail of each VMM (<c>kindling-vmm jail</c>): a chroot with only the VM's files, its own cgroup (CPU,
/// memory, pids), new mount/pid/IPC/UTS namespaces, an unprivileged uid/gid and a seccomp allowlist. Needs root;
/// a runner that is not root starts VMMs un-jailed and says so.
/// </summary>
public sealed class JailOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>The unprivileged user and group the VMM runs as (no account is needed for them).</summary>
    public uint Uid { get; set; } = 64500;
    public uint Gid { get; set; } = 64500;
    /// <summary>Jails live in CHROOT_BASE/kindling-vmm/VMID/root.</summary>
    public string ChrootBase { get; set; } = "/srv/jailer";
    public string CgroupRoot { get; set; } = "/sys/fs/cgroup";
    /// <summary>The cgroup's memory limit is the guest's RAM plus this (the VMM itself, the runtime, page cache).</summary>
    public int MemoryOverheadMib { get; set; } = 256;
    public int PidsMax { get; set; } = 256;
}
