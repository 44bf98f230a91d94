using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Config;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// The things the VM suites run: the test guest, kindling-vmm (framework-dependent build next to this program,
/// ReadyToRun publishes, and the NativeAOT one), QEMU microvm with KVM, and the configs they boot.
/// </summary>
internal static class VmSubjects
{
    public const int GuestMemMib = 128;
    public const string Qemu = "qemu-system-x86_64";

    /// <summary>The line the <c>idle</c> scenario prints before halting.</summary>
    public const string IdleLine = "KINDLING-IDLE";

    /// <summary>The framework-dependent apphost the project reference to Kindling.Vmm.Cli copies next to this program.</summary>
    public static string FrameworkDependent => Path.Combine(AppContext.BaseDirectory, "kindling-vmm");

    public static string FrameworkDependentDll => Path.Combine(AppContext.BaseDirectory, "kindling-vmm.dll");

    /// <summary>The dotnet host running this program.</summary>
    public static string DotnetHost => Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));

    public static string Guest => GuestBuilder.ImagePath;

    public static string ArtifactsDirectory
    {
        get
        {
            string dir = Path.Combine(RepoPaths.Root, "artifacts", "bench");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>Null when KVM, root and QEMU are here; otherwise why the VM suites cannot run.</summary>
    public static string? Unavailable()
    {
        if (HostFacts.KvmUnavailableReason is { } kvm)
        {
            return kvm;
        }

        if (!File.Exists(FrameworkDependent))
        {
            return $"{FrameworkDependent} is missing; build tests/Kindling.Benchmarks";
        }

        return null;
    }

    public static bool HasQemu => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, Qemu)));

    /// <summary>A Firecracker-format config booting the test guest's <paramref name="scenario"/>; returns its path.</summary>
    public static string WriteConfig(string directory, string scenario, string? kernelPath = null, int memMib = GuestMemMib)
    {
        var config = new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = kernelPath ?? Guest, BootArgs = $"kindling.test={scenario}" },
            MachineConfig = new MachineConfig { VcpuCount = 1, MemSizeMib = memMib },
        };
        string path = Path.Combine(directory, $"{scenario}-{memMib}.json");
        File.WriteAllText(path, VmConfigJson.Serialize(config));
        return path;
    }

    public static VmCommand Kindling(string executable, string configPath) => new(executable, ["--config-file", configPath, "--no-api"]);

    /// <summary>
    /// QEMU microvm with KVM, the guest entered through its PVH note. QEMU's default CPU model: <c>-cpu host</c>
    /// and <c>-cpu max</c> abort on this emulated KVM (KVM_SET_MSRS of MSR 0x10a fails).
    /// </summary>
    public static VmCommand QemuMicrovm(string scenario, int memMib = GuestMemMib) => new(Qemu,
    [
        "-M", "microvm", "-accel", "kvm", "-smp", "1", "-m", memMib.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        "-kernel", Guest, "-append", $"kindling.test={scenario}",
    ]);

    /// <summary>
    /// A ReadyToRun publish of kindling-vmm (<c>dotnet publish -r linux-x64 -p:PublishReadyToRun=true</c>),
    /// framework-dependent (only our assemblies precompiled; the shared framework already is) or self-contained,
    /// cached under artifacts/bench by a hash of the VMM sources.
    /// </summary>
    public static string ReadyToRun(bool selfContained) =>
        Publish(selfContained ? "kindling-vmm-r2r-sc" : "kindling-vmm-r2r", $"ReadyToRun ({(selfContained ? "self-contained" : "framework-dependent")})",
            [selfContained ? "--self-contained" : "--no-self-contained", "-p:PublishReadyToRun=true"]).Executable;

    /// <summary>
    /// The NativeAOT publish of kindling-vmm (<c>dotnet publish -r linux-x64 -p:PublishAot=true</c>): one executable,
    /// cached as <see cref="ReadyToRun"/> is. <c>PublishSeconds</c> is the publish's wall time, or null when cached.
    /// </summary>
    public static (string Executable, double? PublishSeconds) NativeAot() => Publish("kindling-vmm-aot", "NativeAOT", ["-p:PublishAot=true"]);

    private static (string Executable, double? PublishSeconds) Publish(string name, string what, IReadOnlyList<string> properties)
    {
        string hash = HashVmmSources();
        string root = Path.Combine(ArtifactsDirectory, name);
        string final = Path.Combine(root, hash);
        string exe = Path.Combine(final, "kindling-vmm");
        if (File.Exists(exe))
        {
            return (exe, null);
        }

        Directory.CreateDirectory(root);
        foreach (string stale in Directory.GetDirectories(root))
        {
            Directory.Delete(stale, recursive: true);
        }

        string temp = final + ".tmp";
        Console.WriteLine($"publishing kindling-vmm {what} to {final} ...");
        var psi = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                "publish", Path.Combine(RepoPaths.Root, "vmm", "Kindling.Vmm.Cli", "Kindling.Vmm.Cli.csproj"),
                "-c", "Release", "-r", "linux-x64", "-o", temp, "-v", "q", "-nologo",
                // Its own obj/bin: a runtime-specific restore must not touch the Debug build's.
                "--artifacts-path", Path.Combine(root, "artifacts"),
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string property in properties)
        {
            psi.ArgumentList.Add(property);
        }

        long started = Stopwatch.GetTimestamp();
        using Process publish = Process.Start(psi)!;
        Task<string> err = publish.StandardError.ReadToEndAsync();
        string output = publish.StandardOutput.ReadToEnd();
        publish.WaitForExit();
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish of kindling-vmm ({what}) failed:\n{output}\n{err.Result}");
        }

        Directory.Delete(Path.Combine(root, "artifacts"), recursive: true);
        Directory.Move(temp, final);
        return (exe, seconds);
    }

    private static string HashVmmSources()
    {
        using IncrementalHash sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string vmm = Path.Combine(RepoPaths.Root, "vmm");
        IEnumerable<string> files = Directory.EnumerateFiles(vmm, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Concat([Path.Combine(RepoPaths.Root, "Directory.Build.props"), Path.Combine(RepoPaths.Root, "Directory.Packages.props")])
            .Order(StringComparer.Ordinal);
        foreach (string file in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(RepoPaths.Root, file) + "\0"));
            sha.AppendData(File.ReadAllBytes(file));
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }
}
