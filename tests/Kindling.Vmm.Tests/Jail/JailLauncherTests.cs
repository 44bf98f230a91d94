using System.Diagnostics;
using System.Text.Json;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

[Collection(JailCollection.Name)]
public sealed class JailLauncherTests : IDisposable
{
    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [RootFact]
    public async Task Start_ReportAction_SeesOnlyItsChrootAsUnprivilegedPid1UnderSeccompAndCgroup()
    {
        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.Report);
        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        using JsonDocument report = JsonDocument.Parse(await JailTestHost.ReadLineAsync(jail));
        JsonElement view = report.RootElement;

        // Files: the devices, /proc, /run, the linked kernel, the mount points of the runtime and the app, and
        // OpenSSL (loaded on first use, inside the jail).
        string[] crypto = [.. JailLauncher.CryptographyFiles().Select(f => f.JailPath)];
        Assert.Contains(crypto, p => p.EndsWith("/libssl.so.3", StringComparison.Ordinal));
        // A native build: the binary and glibc's files, no mount point of the host; a managed one: the app's and dotnet's folders.
        JailRuntime runtime = JailRuntime.For(JailTestHost.AppPath, dotnetPath: null);
        string[] runtimeRoot = runtime.IsNative
            ? ["kindling-vmm", .. runtime.Files.Skip(1).Select(f => FirstComponent(f.JailPath))]
            : [FirstComponent(JailTestHost.AppPath), FirstComponent(RuntimeDotnetRoot())];
        string[] expectedRoot = new[] { "dev", "proc", "run", "vmlinux" }.Concat(runtimeRoot)
            .Concat(crypto.Select(FirstComponent)).Distinct().Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expectedRoot, view.GetProperty("root").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(["/dev/kvm", "/dev/net", "/dev/net/tun", "/dev/null", "/dev/urandom"], view.GetProperty("dev").EnumerateArray().Select(e => e.GetString()!).ToArray());

        JsonElement status = view.GetProperty("status");
        Assert.Equal($"{JailTestHost.Uid}\t{JailTestHost.Uid}\t{JailTestHost.Uid}\t{JailTestHost.Uid}", status.GetProperty("Uid").GetString());
        Assert.Equal($"{JailTestHost.Gid}\t{JailTestHost.Gid}\t{JailTestHost.Gid}\t{JailTestHost.Gid}", status.GetProperty("Gid").GetString());
        Assert.Equal("", status.GetProperty("Groups").GetString());
        Assert.Equal("2", status.GetProperty("Seccomp").GetString());
        Assert.Equal("1", status.GetProperty("NoNewPrivs").GetString());

        // New pid namespace: it is pid 1 and sees no other process.
        Assert.Equal(1, view.GetProperty("pid").GetInt32());
        Assert.Equal(["1"], view.GetProperty("processes").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("1024", view.GetProperty("nofile").GetString());
        Assert.Equal((1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), view.GetProperty("fsize").GetString());
        Assert.Equal(0, view.GetProperty("environment").GetInt32());

        // The cgroup, seen from inside and from the host, with its limits.
        string cgroup = view.GetProperty("cgroup").GetString()!;
        foreach (string controller in JailCgroup.V1Controllers)
        {
            Assert.Contains($":{controller}:/kindling/{id}\n", cgroup, StringComparison.Ordinal);
        }

        int child = JailTestHost.JailedChild(jail.Id);
        JailCgroup host = new("/sys/fs/cgroup", id);
        Assert.Contains(child, host.Processes());
        Assert.Equal("536870912", File.ReadAllText($"/sys/fs/cgroup/memory/kindling/{id}/memory.limit_in_bytes").Trim());
        Assert.Equal("64", File.ReadAllText($"/sys/fs/cgroup/pids/kindling/{id}/pids.max").Trim());
        Assert.Equal("50000", File.ReadAllText($"/sys/fs/cgroup/cpu/kindling/{id}/cpu.cfs_quota_us").Trim());

        // Namespaces differ from the host's.
        foreach (string ns in new[] { "mnt", "pid", "ipc", "uts" })
        {
            Assert.NotEqual(new FileInfo($"/proc/self/ns/{ns}").LinkTarget, new FileInfo($"/proc/{child}/ns/{ns}").LinkTarget);
        }

        jail.StandardInput.Close();
        Assert.Equal(0, await JailTestHost.WaitExitAsync(jail));
    }

    [RootFact]
    public async Task Start_ForbiddenSyscallAfterFilter_KillsProcessWithSigsys()
    {
        string id = _host.NewId();
        using Process jail = JailLauncher.Start(_host.Spec(id, JailDebugAction.ForbiddenSyscall), redirectStandardStreams: true);
        Assert.Equal("calling ptrace", await JailTestHost.ReadLineAsync(jail));
        // unshare re-raises the child's fatal signal: 128 + SIGSYS (31).
        Assert.Equal(159, await JailTestHost.WaitExitAsync(jail));
        Assert.Equal("", await jail.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken));
    }

    [RootFact]
    public async Task Start_RuntimeWorkloadUnderFilter_CompletesWithoutBeingKilled()
    {
        string id = _host.NewId();
        using Process jail = JailLauncher.Start(_host.Spec(id, JailDebugAction.Workload), redirectStandardStreams: true);
        Assert.StartsWith("WORKLOAD OK", await JailTestHost.ReadLineAsync(jail), StringComparison.Ordinal);
        Assert.Equal(0, await JailTestHost.WaitExitAsync(jail));
    }

    [RootFact]
    public async Task Start_InheritedDescriptor_IsClosedUnlessKept()
    {
        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.Report);
        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        using JsonDocument report = JsonDocument.Parse(await JailTestHost.ReadLineAsync(jail));
        int child = JailTestHost.JailedChild(jail.Id);
        // Every descriptor the jailed process holds is close-on-exec (the runtime's own) or a standard stream.
        foreach (JsonElement fd in report.RootElement.GetProperty("fds").EnumerateArray())
        {
            int n = fd.GetInt32();
            if (n > 2 && File.Exists($"/proc/{child}/fdinfo/{n}"))
            {
                string flags = File.ReadLines($"/proc/{child}/fdinfo/{n}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
                int octal = Convert.ToInt32(flags["flags:".Length..].Trim(), 8);
                Assert.True((octal & 0x80000) != 0, $"fd {n} of the jailed process is not O_CLOEXEC: inherited");
            }
        }

        jail.StandardInput.Close();
        Assert.Equal(0, await JailTestHost.WaitExitAsync(jail));
    }

    [RootFact]
    public void Prepare_HostWithoutKvm_FailsNamingDevKvmAndLeavesNothing()
    {
        // On a host with KVM the missing device is a path that does not exist, so the check runs everywhere.
        string kvm = JailLauncher.KvmProblem() is null ? Path.Combine(_host.ChrootBase, "no-kvm") : JailLauncher.DefaultKvmDevicePath;

        string id = _host.NewId();
        JailException e = Assert.Throws<JailException>(() => JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None) with { RequireKvm = true, KvmDevicePath = kvm }));
        Assert.Contains(kvm, e.Message, StringComparison.Ordinal);
        Assert.Contains("hardware virtualization", e.Message, StringComparison.Ordinal);
        Assert.Empty(JailTeardown.Verify(id, _host.ChrootBase));
        Assert.False(Directory.Exists(Path.Combine(_host.ChrootBase, "kindling-vmm")));
    }

    [RootFact]
    public void Prepare_SameIdTwice_SecondFailsAndFirstStaysIntact()
    {
        string id = _host.NewId();
        JailInitOptions first = JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None));
        JailException e = Assert.Throws<JailException>(() => JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None)));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(first.Root + "/vmlinux"));
        Assert.True(new JailCgroup("/sys/fs/cgroup", id).Exists);
    }

    [RootFact]
    public void Prepare_ReadOnlyChrootBase_FailsNamingTheBaseAndLeavesNothing()
    {
        string readOnly = Path.Combine(_host.ChrootBase, "ro");
        Directory.CreateDirectory(readOnly);
        Run("mount", "-t", "tmpfs", "-o", "ro", "tmpfs", readOnly);
        try
        {
            string id = _host.NewId();
            JailException e = Assert.Throws<JailException>(() => JailLauncher.Prepare(_host.Spec(id, JailDebugAction.None) with { ChrootBase = readOnly }));
            Assert.Contains($"chroot base '{readOnly}' is not writable", e.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(readOnly));
            Assert.Empty(JailTeardown.Verify(id, readOnly));
        }
        finally
        {
            Run("umount", readOnly);
        }
    }

    [RootFact]
    public void Prepare_MissingVmFile_FailsNamingTheFileAndLeavesNothing()
    {
        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.None) with { Resources = [new JailResource("/nonexistent/initrd", "/initrd")] };
        JailException e = Assert.Throws<JailException>(() => JailLauncher.Prepare(spec));
        Assert.Contains("/nonexistent/initrd", e.Message, StringComparison.Ordinal);
        Assert.Empty(JailTeardown.Verify(id, _host.ChrootBase));
    }

    [Fact]
    public void Prepare_InvalidId_FailsBeforeTouchingTheHost()
    {
        JailException e = Assert.Throws<JailException>(() => JailLauncher.Prepare(_host.Spec("../etc", JailDebugAction.None)));
        Assert.Contains("contains '.'", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_host.ChrootBase, "kindling-vmm")));
    }

    internal static void Run(string file, params string[] args)
    {
        ProcessStartInfo start = new(file) { UseShellExecute = false, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process p = Process.Start(start)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {error}");
    }

    private static string FirstComponent(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries)[0];

    private static string RuntimeDotnetRoot() =>
        Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
}
