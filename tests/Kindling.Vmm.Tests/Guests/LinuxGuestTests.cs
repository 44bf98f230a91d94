using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Kindling.Images;
using Kindling.Images.Rootfs;
using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Tests.Logging;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// Real Linux on kindling-vmm, to user space, with Kindling's own images: the kernel (Kindling's build of Debian's
/// linux-source where the host's KVM emulates guest kernel code, Debian's cloud kernel on hardware KVM), the
/// initramfs with init + agent, the minimal base image and a per-job overlay, the job delivered through the
/// in-VMM metadata service. On emulated KVM a boot takes minutes (../shared/KVM-HERE.md; issue 11), so these
/// are in the LinuxBoot category, run by tests/run.sh like every other test; each prints its progress.
/// </summary>
[Trait("Category", "LinuxBoot")]
public sealed class LinuxGuestTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(20);
    private const string GuestMac = "06:00:ac:10:00:02";
    private const string Secret = "kindling-secret-4f1d9a";

    private static readonly SemaphoreSlim ImagesGate = new(1, 1);
    private static (KernelArtifacts Kernel, BaseImage Base)? _images;

    private static async Task<(KernelArtifacts Kernel, BaseImage Base)> ImagesAsync()
    {
        await ImagesGate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_images is { } ready)
            {
                return ready;
            }

            var store = new ImageStore(new ImageStoreOptions
            {
                CacheDirectory = Path.Combine(RepoPaths.Cache, "images"),
                GuestDirectory = Path.Combine(RepoPaths.Root, "images", "guest"),
            });
            GuestKernel kind = KvmProbe.Result.Backing == KvmBacking.Emulated ? GuestKernel.Kindling : GuestKernel.Debian;
            var progress = new Progress<ImageProgress>(p => Log($"images: {p.Stage}: {p.Message}"));
            KernelArtifacts kernel = await store.EnsureKernelAsync(kind, progress, TestContext.Current.CancellationToken);
            BaseImage minimal = await store.EnsureBaseAsync(Flavour.Minimal, progress, TestContext.Current.CancellationToken);
            return (_images = (kernel, minimal)).Value;
        }
        finally
        {
            ImagesGate.Release();
        }
    }

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine($"{DateTime.Now:HH:mm:ss} {line}");

    /// <summary>The job as the runner writes it into MMDS (images/guest/PROTOCOL.md).</summary>
    private static JsonObject Job(string id, params string[] steps)
    {
        var stepNodes = new JsonObject();
        for (int i = 0; i < steps.Length; i++)
        {
            stepNodes[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["name"] = $"step {i}",
                ["run"] = steps[i],
                ["shell"] = "sh",
                ["working_directory"] = "",
                ["if"] = "success()",
                ["continue_on_error"] = "false",
            };
        }

        return new JsonObject
        {
            ["kindling"] = new JsonObject
            {
                ["job"] = new JsonObject
                {
                    ["id"] = id,
                    ["name"] = "linux-guest-test",
                    ["timeout_seconds"] = "900",
                    ["step_count"] = steps.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["steps"] = stepNodes,
                },
                ["secrets"] = new JsonObject { ["KINDLING_TEST_SECRET"] = Secret },
            },
        };
    }

    private static VmConfig Config(KernelArtifacts kernel, string bootArgs, TapDevice tap, IReadOnlyList<DriveConfig> drives, SerialConfig? serial = null)
    {
        bool emulated = KvmProbe.Result.Backing == KvmBacking.Emulated;
        string args = $"{(emulated ? GuestCommandLine.Create().ForEmulatedHost(kernel) : GuestCommandLine.Create()).Build()} {bootArgs}";
        return new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = kernel.VmlinuxPath, InitrdPath = kernel.InitramfsPath, BootArgs = args },
            MachineConfig = new MachineConfig { VcpuCount = 1, MemSizeMib = 256, CpuTemplate = emulated ? "Emulated" : null },
            Drives = drives,
            NetworkInterfaces = [new NetworkInterfaceConfig { IfaceId = "eth0", HostDevName = tap.Name, GuestMac = GuestMac }],
            MmdsConfig = new MmdsConfig { NetworkInterfaces = ["eth0"] },
            Serial = serial,
        };
    }

    private static void AssertJobSucceeded(IReadOnlyList<string> lines, string jobId, string describe)
    {
        Assert.True(lines.Contains("Run /init as init process") || lines.Any(l => l.EndsWith("Run /init as init process", StringComparison.Ordinal)),
            $"the kernel never ran /init; {describe}");
        Assert.True(lines.Contains($"##kindling[job-start id={jobId}]"), $"no job-start for {jobId}; {describe}");
        Assert.True(lines.Contains("##kindling[job-end result=succeeded exit=0]"), $"the job did not succeed; {describe}");
    }

    [KvmFact]
    public async Task Boot_InitramfsOnly_InitRunsAOneLineJobAndTheVmEndsThroughTheI8042()
    {
        (KernelArtifacts kernel, _) = await ImagesAsync();
        using TapDevice tap = TapDevice.Create();
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-linux-");
        try
        {
            string metadata = Path.Combine(dir.FullName, "mmds.json");
            await File.WriteAllTextAsync(metadata, Job("one-line", "echo \"KINDLING-JOB-OUTPUT $((6 * 7))\"").ToJsonString(), TestContext.Current.CancellationToken);
            VmConfig config = Config(kernel, "kindling.base=none kindling.overlay=none", tap, []);

            Log($"booting {kernel.KernelVersion} ({KvmProbe.Result})");
            GuestRunResult r = await KindlingVmmProcess.RunAsync(config, dir.FullName, BootTimeout, TestContext.Current.CancellationToken,
                extraArguments: ["--metadata", metadata], onLine: l => Log("serial: " + l));

            Log($"VM ended after {r.Elapsed.TotalSeconds:F0} s with exit {r.ExitCode}; /init at {r.LineTimes.FirstOrDefault(t => t.Line.EndsWith("Run /init as init process", StringComparison.Ordinal)).At.TotalSeconds:F0} s");
            AssertJobSucceeded(r.Lines, "one-line", r.Describe());
            Assert.Contains("KINDLING-JOB-OUTPUT 42", r.Lines);
            Assert.False(r.TimedOut, r.Describe());
            Assert.Equal(0, r.ExitCode); // reboot -f → i8042 reset → kindling-vmm exits 0
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [KvmFact]
    public async Task Boot_BaseAndOverlayDrivesWithMmds_JobReadsTheSecretAndItsOutputComesThroughTheSerialFifo()
    {
        (KernelArtifacts kernel, BaseImage minimal) = await ImagesAsync();
        using TapDevice tap = TapDevice.Create();
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-linux-");
        try
        {
            var store = new ImageStore(new ImageStoreOptions { CacheDirectory = dir.FullName, GuestDirectory = Path.Combine(RepoPaths.Root, "images", "guest") });
            using Images.Overlays.Overlay overlay = await store.CreateOverlayAsync(workspaceDirectory: null, sizeBytes: 256L << 20, TestContext.Current.CancellationToken);
            string expectedDigest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Secret)));
            string metadata = Path.Combine(dir.FullName, "mmds.json");
            await File.WriteAllTextAsync(metadata, Job("drives",
                "echo \"secret: $KINDLING_TEST_SECRET\"",
                "printf '%s' \"$KINDLING_TEST_SECRET\" | sha256sum | cut -d' ' -f1 | sed 's/^/digest: /'",
                "echo written-in-the-guest > \"$KINDLING_WORKSPACE/out.txt\" && grep -c . /proc/mounts && mount | grep ' / '").ToJsonString(),
                TestContext.Current.CancellationToken);
            string fifo = Fifo.Create(dir.FullName, "serial.fifo");
            VmConfig config = Config(kernel, "", tap,
                [new DriveConfig { DriveId = "base", PathOnHost = minimal.Path, IsReadOnly = true },
                 new DriveConfig { DriveId = "overlay", PathOnHost = overlay.Path, IsReadOnly = false }],
                new SerialConfig { SerialOutPath = fifo });

            Log($"booting {kernel.KernelVersion} with {Path.GetFileName(minimal.Path)} (ro) and an overlay (rw)");
            Task<List<string>> fromFifo = Fifo.ReadLinesAsync(fifo, l => Log("fifo: " + l), TestContext.Current.CancellationToken);
            GuestRunResult r = await KindlingVmmProcess.RunAsync(config, dir.FullName, BootTimeout, TestContext.Current.CancellationToken,
                extraArguments: ["--metadata", metadata]);
            List<string> lines = await fromFifo.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

            string describe = $"{r.Describe()}\n--- serial FIFO ---\n{string.Join('\n', lines.TakeLast(60))}";
            Log($"VM ended after {r.Elapsed.TotalSeconds:F0} s with exit {r.ExitCode}");
            Assert.Equal("", r.Serial); // everything went to the FIFO, nothing to stdout
            AssertJobSucceeded(lines, "drives", describe);
            Assert.Contains("secret: ***", lines); // masked in the output ...
            Assert.Contains($"digest: {expectedDigest}", lines); // ... but the job had it
            Assert.DoesNotContain(lines, l => l.Contains(Secret, StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("overlay on / type overlay", StringComparison.Ordinal));
            Assert.Equal(0, r.ExitCode);
            Assert.Equal("written-in-the-guest\n", await DebugfsCatAsync(overlay.Path, "/upper/workspace/out.txt"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>A file's content inside an ext4 image, read with debugfs (e2fsprogs) without mounting it.</summary>
    private static async Task<string> DebugfsCatAsync(string image, string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("debugfs") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "-R", $"cat {path}", image })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string output = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        _ = await err;
        return output;
    }
}
