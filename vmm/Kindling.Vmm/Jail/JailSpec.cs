namespace Kindling.Vmm.Jail;

/// <summary>Everything the jailer needs to build one VM's jail and start the VMM inside it.</summary>
public sealed record JailSpec
{
    /// <summary>The VM id (see <see cref="JailId"/>); names the chroot and the cgroup.</summary>
    public required string Id { get; init; }

    /// <summary>Directory under which <c>kindling-vmm/&lt;id&gt;/root</c> is created.</summary>
    public string ChrootBase { get; init; } = "/srv/jailer";

    /// <summary>Unprivileged uid/gid the VMM runs as after the jail is built.</summary>
    public required uint Uid { get; init; }

    public required uint Gid { get; init; }

    public IReadOnlyList<JailResource> Resources { get; init; } = [];

    /// <summary>FIFOs to create inside the jail (absolute jail paths), owned by the jail's uid.</summary>
    public IReadOnlyList<string> Fifos { get; init; } = [];

    /// <summary>Directories to create inside the jail (for sockets: the API socket's folder), owned by the uid.</summary>
    public IReadOnlyList<string> Directories { get; init; } = ["/run"];

    public JailCgroupLimits Limits { get; init; } = new();

    /// <summary>Root of the cgroup file systems (v1: one folder per controller; v2: the unified tree).</summary>
    public string CgroupRoot { get; init; } = "/sys/fs/cgroup";

    /// <summary>A network namespace to join (/var/run/netns/NAME), or null to share the host's.</summary>
    public string? NetNsPath { get; init; }

    /// <summary>The VM's TAP device; teardown deletes it.</summary>
    public string? TapName { get; init; }

    public ulong? RlimitNoFile { get; init; } = 2048;

    /// <summary>Largest file the VMM may write (RLIMIT_FSIZE), or null for no limit.</summary>
    public ulong? RlimitFsize { get; init; }

    /// <summary>Descriptors (beyond 0-2) the VMM keeps: pre-opened TAP or sockets. All others are closed.</summary>
    public IReadOnlyList<int> KeepFds { get; init; } = [];

    /// <summary>Refuse to build the jail when the host has no usable /dev/kvm (turn off only to test the jail).</summary>
    public bool RequireKvm { get; init; } = true;

    /// <summary>The host's KVM device that <see cref="RequireKvm"/> checks (another path only in tests).</summary>
    public string KvmDevicePath { get; init; } = JailLauncher.DefaultKvmDevicePath;

    /// <summary>The dotnet host for a framework-dependent kindling-vmm; default: the one running this process, else on PATH.</summary>
    public string? DotnetPath { get; init; }

    /// <summary>
    /// The kindling-vmm to start in the jail: its executable (self-contained with the runtime beside it, or a
    /// framework-dependent apphost) or its dll; default: this process's own (see <see cref="JailRuntime"/>).
    /// </summary>
    public string? AppPath { get; init; }

    /// <summary>A debug-only action the jailed process performs instead of starting the VMM.</summary>
    public JailDebugAction DebugAction { get; init; } = JailDebugAction.None;

    /// <summary>
    /// Tracing only, never in production: the filter's default is SECCOMP_RET_LOG instead of kill-process, so a
    /// run under <c>strace -f</c> shows every syscall the jailed VMM makes, allowed or not (how the allowlist is
    /// checked against a real guest run).
    /// </summary>
    public bool SeccompLogOnly { get; init; }

    /// <summary>Arguments handed to the VMM inside the jail (--config-file /vm.json ...).</summary>
    public IReadOnlyList<string> VmmArgs { get; init; } = [];
}
