using System.Diagnostics;
using Kindling.Benchmarks.Reporting;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// The jailed VMM (<see cref="JailLauncher.Start"/>: chroot, cgroup, namespaces, uid drop, seccomp) versus the same
/// kindling-vmm.dll under the same dotnet host and the jail's environment, without the jail.
/// </summary>
internal sealed class JailBench : IDisposable
{
    private const uint Uid = 40123;
    private const uint Gid = 40124;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _chrootBase;
    private readonly string _work;

    private JailBench(string work)
    {
        _work = work;
        _chrootBase = Path.Combine(work, "jails");
        Directory.CreateDirectory(_chrootBase);
    }

    /// <summary>Null (with a note) where the jail cannot run: not root, no util-linux unshare, no kindling-vmm.dll.</summary>
    public static JailBench? Create(string work, BenchReport report)
    {
        string? why = HostFacts.RootUnavailableReason
            ?? (File.Exists(JailLauncher.UnsharePath) ? null : $"{JailLauncher.UnsharePath} is missing")
            ?? (File.Exists(VmSubjects.FrameworkDependentDll) ? null : $"{VmSubjects.FrameworkDependentDll} is missing");
        if (why is not null)
        {
            report.Note($"jail comparison skipped: {why}");
            return null;
        }

        return new JailBench(work);
    }

    /// <summary>
    /// The un-jailed baseline: dotnet <paramref name="dll"/> (kindling-vmm.dll), or a native kindling-vmm itself,
    /// environment exactly the jail's.
    /// </summary>
    public VmCommand Unjailed(string scenario, string dll)
    {
        string config = VmSubjects.WriteConfig(_work, scenario);
        var env = JailLauncher.JailEnvironment.ToDictionary(v => v[..v.IndexOf('=', StringComparison.Ordinal)], v => (string?)v[(v.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        bool native = ElfImage.IsNativeAotFile(dll);
        return new VmCommand(native ? dll : VmSubjects.DotnetHost, [.. native ? [] : new[] { dll }, "--config-file", config, "--no-api"])
        {
            ClearEnvironment = true,
            Environment = env,
        };
    }

    /// <summary>Starts the jailed VMM with <paramref name="scenario"/>; the clock starts before the jail is built.</summary>
    public (VmProcess Vm, string Id) StartJailed(string scenario, string dll)
    {
        string id = "bench-" + Guid.NewGuid().ToString("N")[..10];
        string config = Path.Combine(_work, $"jail-{scenario}.json");
        File.WriteAllText(config, $$"""
            {
              "boot-source": { "kernel_image_path": "/guest.elf", "boot_args": "kindling.test={{scenario}}" },
              "machine-config": { "vcpu_count": 1, "mem_size_mib": {{VmSubjects.GuestMemMib}} }
            }
            """);
        var spec = new JailSpec
        {
            Id = id,
            Uid = Uid,
            Gid = Gid,
            ChrootBase = _chrootBase,
            RequireKvm = true,
            AppPath = dll,
            Resources = [new JailResource(VmSubjects.Guest, "/guest.elf"), new JailResource(config, "/vm.json")],
            Limits = new JailCgroupLimits { MemoryBytes = 512L << 20, PidsMax = 64 },
            VmmArgs = ["--config-file", "/vm.json", "--no-api", "--id", id],
        };
        long started = Stopwatch.GetTimestamp();
        Process process = JailLauncher.Start(spec, redirectStandardStreams: true);
        var vm = VmProcess.Adopt(process, started);
        process.StandardInput.Close();
        return (vm, id);
    }

    public LaunchSample RunJailed(string scenario, string dll)
    {
        double cpuBefore = ChildCpu.TotalMs();
        (VmProcess vm, string id) = StartJailed(scenario, dll);
        try
        {
            double ms = vm.WaitFirstByteMs(Timeout);
            int exit = vm.WaitExit(Timeout);
            if (exit != 0)
            {
                throw vm.Failure($"jailed exit {exit}");
            }

            return new LaunchSample(ms, ChildCpu.TotalMs() - cpuBefore);
        }
        finally
        {
            vm.Dispose();
            Destroy(id);
        }
    }

    /// <summary>The VMM inside the jail: the child of unshare (the namespace's pid 1).</summary>
    public static int JailedPid(VmProcess vm)
    {
        string children = File.ReadAllText($"/proc/{vm.Id}/task/{vm.Id}/children").Trim();
        return int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Destroy(string id) => JailTeardown.Destroy(id, _chrootBase);

    public void Dispose() => JailTree.Remove(_chrootBase);
}
