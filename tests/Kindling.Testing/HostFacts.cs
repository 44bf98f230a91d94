using System.Runtime.InteropServices;
using Xunit;

namespace Kindling.Testing;

/// <summary>What this host offers the tests, each with the reason when it is missing.</summary>
public static partial class HostFacts
{
    private static readonly Lazy<string?> KvmMissing = new(ProbeKvm);

    /// <summary>Null when /dev/kvm can be opened read-write; otherwise why not.</summary>
    public static string? KvmUnavailableReason => KvmMissing.Value;

    /// <summary>
    /// Null when /dev/kvm opens and the CPU advertises VT-x/AMD-V (vmx/svm); otherwise why not. Hosts without them
    /// (kvm-pvm) emulate guest kernel code: a Linux guest takes minutes to boot there (see shared KVM notes).
    /// </summary>
    public static string? HardwareKvmUnavailableReason
    {
        get
        {
            if (KvmUnavailableReason is { } kvm)
            {
                return kvm;
            }

            string cpuinfo = File.ReadAllText("/proc/cpuinfo");
            return cpuinfo.Contains(" vmx", StringComparison.Ordinal) || cpuinfo.Contains(" svm", StringComparison.Ordinal)
                ? null
                : "/dev/kvm is emulated here (no vmx/svm in /proc/cpuinfo: kvm-pvm); a Linux guest boot takes minutes here (Kindling.Vmm.Tests LinuxGuestTests covers that path)";
        }
    }

    /// <summary>Null when running as root (TAP, namespaces, cgroups, mknod); otherwise why not.</summary>
    public static string? RootUnavailableReason =>
        Environment.UserName == "root" || GetEuid() == 0 ? null : "needs root (TAP devices, namespaces, cgroups); run tests/run.sh as root";

    private static string? ProbeKvm()
    {
        const string path = "/dev/kvm";
        if (!File.Exists(path))
        {
            string detail = File.Exists("/sys/module/kvm_pvm/parameters") || Directory.Exists("/sys/module/kvm_pvm")
                ? " (the kvm module is loaded but registered no /dev/kvm: this host is itself a kvm-pvm guest)"
                : "";
            return $"/dev/kvm does not exist on this host{detail}";
        }

        try
        {
            using FileStream f = new(path, FileMode.Open, FileAccess.ReadWrite);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"/dev/kvm cannot be opened: {e.Message}";
        }
    }

    /// <summary>Debian's chromium, which the browser tests drive (tests/run.sh installs it).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>Null when Debian's chromium is installed; otherwise why the browser tests cannot run.</summary>
    public static string? ChromiumUnavailableReason =>
        File.Exists(ChromiumPath) ? null : $"needs Debian's chromium at {ChromiumPath}; tests/run.sh installs it (apt-get install chromium)";

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

}

/// <summary>A fact that needs /dev/kvm: skipped, with the measured reason, where KVM is absent.</summary>
public sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute(
        [System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (HostFacts.KvmUnavailableReason is { } reason)
        {
            Skip = "needs KVM: " + reason;
        }
    }
}

/// <summary>
/// A fact that needs hardware-assisted KVM (a Linux guest reaching user space) and root (TAP devices for MMDS):
/// skipped with the reason on hosts whose /dev/kvm emulates guest kernel code (no vmx/svm: kvm-pvm).
/// </summary>
public sealed class HardwareKvmFactAttribute : FactAttribute
{
    public HardwareKvmFactAttribute(
        [System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (HostFacts.HardwareKvmUnavailableReason is { } reason)
        {
            Skip = "needs hardware KVM: " + reason;
        }
        else if (HostFacts.RootUnavailableReason is { } root)
        {
            Skip = root;
        }
    }
}

/// <summary>A fact that needs root: skipped, with the reason, otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute(
        [System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (HostFacts.RootUnavailableReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A fact that drives a browser: skipped, with the reason, where Debian's chromium is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute(
        [System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (HostFacts.ChromiumUnavailableReason is { } reason)
        {
            Skip = reason;
        }
    }
}
