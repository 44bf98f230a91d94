using System.Diagnostics;
using Kindling.Native;
using Kindling.Images;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Tests.Launch;

/// <summary>
/// The runner's half of the VM contract (Kindling.Vmm.Contract's records) against the real kindling-vmm, with no KVM
/// needed: every vm.json that <see cref="VmConfigBuilder"/> can build (each kernel/images choice, with and without
/// initrd, network/TAP and MMDS, CPU template, the smallest and the largest VM a pool may ask for, with the serial
/// FIFO, log and metrics files), and the sections the launcher carries beyond those (rate limiters, vsock,
/// entropy), is accepted section by section over the API by <see cref="VmmLauncher"/>, and as a whole by
/// <c>kindling-vmm --no-api --config-file</c>. Both stop at InstanceStart, which needs /dev/kvm: where it is
/// missing the refusal must be the KVM one, never one about the configuration. The jailed launcher's rewrite (every
/// file at its path inside the chroot) goes through the VMM's own parser and validator in-process, as a jailed VMM
/// would read it.
/// </summary>
public sealed class VmConfigContractTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-vmcontract-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string VmmPath => Path.Combine(AppContext.BaseDirectory, "kindling-vmm");

    /// <summary>How each images provider of the runner describes its kernel (the variants of boot-source and machine-config).</summary>
    public enum Kernel
    {
        /// <summary>DirectoryImageProvider: vmlinux and rootfs.ext4, no initramfs, its default boot args.</summary>
        DirectoryNoInitrd,
        /// <summary>DirectoryImageProvider with initramfs.cpio and a boot-args file.</summary>
        DirectoryWithInitrd,
        /// <summary>ImageStoreProvider on hardware KVM: kernel, initramfs, the images' command line, no CPU template.</summary>
        ImageStore,
        /// <summary>ImageStoreProvider on an emulated KVM host: the same with cpu_template Emulated.</summary>
        ImageStoreEmulated,
    }

    /// <summary>Sections the launcher sends when a config has them, beyond what <see cref="VmConfigBuilder"/> puts in today.</summary>
    [Flags]
    public enum Extras
    {
        None = 0,
        /// <summary>Bandwidth and ops buckets on both drives and on the NIC's RX and TX.</summary>
        RateLimiters = 1,
        /// <summary>A vsock device over a Unix socket in the work directory.</summary>
        Vsock = 2,
        /// <summary>virtio-rng with its own rate limiter.</summary>
        Entropy = 4,
        All = RateLimiters | Vsock | Entropy,
    }

    public static TheoryData<Kernel, bool, int, int, Extras> Variants()
    {
        var data = new TheoryData<Kernel, bool, int, int, Extras>();
        foreach (Kernel kernel in Enum.GetValues<Kernel>())
        {
            foreach (bool network in new[] { false, true })
            {
                data.Add(kernel, network, 1, 256, Extras.None);
            }
        }

        // The extremes a pool may ask for (KindlingOptionsValidator): the smallest VM, and the most vCPUs.
        data.Add(Kernel.ImageStore, true, 1, KindlingOptionsValidator.MinPoolMemoryMib, Extras.None);
        data.Add(Kernel.ImageStore, true, KindlingOptionsValidator.MaxPoolVcpus, 4096, Extras.None);
        data.Add(Kernel.DirectoryNoInitrd, false, 2, 2048, Extras.None);
        // Every further section, with and without a network (the NIC's limiters only with one).
        data.Add(Kernel.ImageStore, true, 1, 256, Extras.All);
        data.Add(Kernel.DirectoryNoInitrd, false, 1, 256, Extras.All);
        data.Add(Kernel.ImageStoreEmulated, true, 2, 512, Extras.RateLimiters);
        return data;
    }

    /// <summary>Every shape (<see cref="Variants"/>), each as the unjailed and as the jailed launcher sends it.</summary>
    public static TheoryData<Kernel, bool, int, int, Extras, bool> Shapes()
    {
        var data = new TheoryData<Kernel, bool, int, int, Extras, bool>();
        foreach (var row in Variants())
        {
            (Kernel kernel, bool network, int vcpus, int memoryMib, Extras extras) = row.Data;
            data.Add(kernel, network, vcpus, memoryMib, extras, false);
            data.Add(kernel, network, vcpus, memoryMib, extras, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task LaunchAsync_EveryConfigTheRunnerBuilds_AcceptedUpToInstanceStart(Kernel kernel, bool network, int vcpus, int memoryMib, Extras extras)
    {
        const long jobId = 4242;
        (VmLaunchRequest request, SerialFifoStream serial) = await PrepareAsync(kernel, network, vcpus, memoryMib, jobId, extras);
        await using (serial)
        {
            int spawned = 0;
            var launcher = new VmmLauncher(VmmPath, new JailOptions { Enabled = false });

            VmLaunchException e = await Assert.ThrowsAsync<VmLaunchException>(() => launcher.LaunchAsync(request, pid => spawned = pid, Ct));

            Assert.NotEqual(0, spawned);
            // Every configuration PUT (logger, metrics, boot-source, machine-config, serial, drives, network
            // interfaces, mmds/config) and the MMDS tree were accepted: only the start itself was refused.
            Assert.StartsWith("VMM API PUT /actions answered 400: ", e.Message, StringComparison.Ordinal);
            AssertKvmRefusal(e.Message);
            Assert.True(File.Exists(request.Workspace.VmConfigPath), "vm.json is kept for the record");
            await AssertExitedAsync(spawned);
        }
    }

    /// <summary>The same vm.json (as the launcher writes it) as a whole: <c>--no-api --config-file</c> validates it and stops only at KVM.</summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public async Task ConfigFile_EveryConfigTheRunnerBuilds_ValidatedThenRefusedOnlyForKvm(Kernel kernel, bool network, int vcpus, int memoryMib, Extras extras)
    {
        (VmLaunchRequest request, SerialFifoStream serial) = await PrepareAsync(kernel, network, vcpus, memoryMib, jobId: 4343, extras);
        await using (serial)
        {
            string vmJson = Path.Combine(_dir, "vm.json");
            await File.WriteAllTextAsync(vmJson, VmConfigBuilder.ToJson(request.VmConfig), Ct);

            (int exit, string stderr) = await RunVmmAsync(["--no-api", "--config-file", vmJson, "--id", request.VmId]);

            Assert.True(exit == 1, $"kindling-vmm exited {exit}: {stderr}");
            string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                l => l.StartsWith("kindling-vmm: ", StringComparison.Ordinal));
            AssertKvmRefusal(line);
        }
    }

    /// <summary>
    /// Every shape as the launcher sends it, unjailed and jailed (every file moved to its path in the chroot), read
    /// by the VMM's own strict parser and validator: accepted, and nothing lost or renamed on the way (the VMM's
    /// reading written back is the same text).
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task VmmValidator_EveryShapeTheLauncherSends_AcceptedAndRoundTrips(Kernel kernel, bool network, int vcpus, int memoryMib, Extras extras, bool jailed)
    {
        (VmLaunchRequest request, SerialFifoStream serial) = await PrepareAsync(kernel, network, vcpus, memoryMib, jobId: 4545, extras);
        await using (serial)
        {
            VmConfig sent = jailed ? VmmLauncher.JailedCommand(Jail, request).Config : request.VmConfig;
            string json = VmConfigBuilder.ToJson(sent);

            VmConfig read = VmConfigJson.Parse<VmConfig>(json, "vm.json");
            VmConfigValidator.Validate(read);

            Assert.Equal(json, VmConfigJson.Serialize(read));
            Assert.Equal(request.VmConfig.Drives.Count, read.Drives.Count);
            Assert.Equal(extras.HasFlag(Extras.Vsock), read.Vsock is not null);
            Assert.Equal(extras.HasFlag(Extras.Entropy), read.Entropy is not null);
            Assert.Equal(extras.HasFlag(Extras.RateLimiters), read.Drives.All(d => d.RateLimiter is { Bandwidth: not null, Ops: not null }));
            if (jailed)
            {
                Assert.Equal("/vmlinux", read.BootSource!.KernelImagePath);
                Assert.Equal(["/drives/" + VmConfigBuilder.RootDriveId, "/drives/" + VmConfigBuilder.OverlayDriveId], read.Drives.Select(d => d.PathOnHost));
                Assert.Equal("/run/serial.fifo", read.Serial!.SerialOutPath);
                Assert.Equal("/run/vmm.log", read.Logger!.LogPath);
                Assert.Equal("/run/vmm-metrics.json", read.Metrics!.MetricsPath);
            }
        }
    }

    /// <summary>The launcher's jail: never started here, only its rewrite of the config is read.</summary>
    private JailOptions Jail => new() { Enabled = true, ChrootBase = Path.Combine(_dir, "jails"), CgroupRoot = Path.Combine(_dir, "cgroup") };

    /// <summary>The contract can fail: a vm.json the VMM does not accept is refused before InstanceStart, naming the field.</summary>
    [Fact]
    public async Task LaunchAsync_ConfigTheVmmRefuses_RefusedAtThatSectionNotAtStart()
    {
        (VmLaunchRequest built, SerialFifoStream serial) = await PrepareAsync(Kernel.ImageStore, network: false, 1, 256, jobId: 4444);
        await using (serial)
        {
            VmLaunchRequest request = built with
            {
                VmConfig = built.VmConfig with { MachineConfig = built.VmConfig.MachineConfig! with { VcpuCount = KindlingOptionsValidator.MaxPoolVcpus + 1 } },
            };

            VmLaunchException e = await Assert.ThrowsAsync<VmLaunchException>(
                () => new VmmLauncher(VmmPath, new JailOptions { Enabled = false }).LaunchAsync(request, _ => { }, Ct));

            Assert.StartsWith("VMM API PUT /machine-config answered 400: ", e.Message, StringComparison.Ordinal);
            Assert.Contains("vcpu_count", e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Where /dev/kvm is missing, InstanceStart's refusal names it. Where KVM exists the (dummy) kernel is what
    /// fails: still at InstanceStart, and naming the kernel rather than a configuration field.
    /// </summary>
    private static void AssertKvmRefusal(string message)
    {
        if (HostFacts.KvmUnavailableReason is not null)
        {
            Assert.Contains("/dev/kvm", message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("boot-source", message, StringComparison.Ordinal);
        Assert.DoesNotContain("drives[", message, StringComparison.Ordinal);
        Assert.DoesNotContain("machine-config", message, StringComparison.Ordinal);
        Assert.DoesNotContain("serial", message, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The job's files as <see cref="Jobs.JobRunner"/> lays them out (work directory, overlay from the provider,
    /// the serial FIFO with its reader open) and the request it builds.
    /// </summary>
    private async Task<(VmLaunchRequest Request, SerialFifoStream Serial)> PrepareAsync(
        Kernel kernel, bool network, int vcpus, int memoryMib, long jobId, Extras extras = Extras.None)
    {
        string images = Path.Combine(_dir, "images");
        Directory.CreateDirectory(images);
        var directoryImages = new DirectoryImageProvider(images, overlayBytes: 16L << 20);
        await File.WriteAllBytesAsync(Path.Combine(images, DirectoryImageProvider.Kernel), new byte[4096], Ct);
        await File.WriteAllBytesAsync(Path.Combine(images, DirectoryImageProvider.Rootfs), new byte[4096], Ct);
        if (kernel == Kernel.DirectoryWithInitrd)
        {
            await File.WriteAllBytesAsync(Path.Combine(images, DirectoryImageProvider.Initrd), new byte[512], Ct);
            await File.WriteAllTextAsync(Path.Combine(images, DirectoryImageProvider.BootArgsFile), "console=ttyS0 reboot=k panic=1 pci=off quiet\n", Ct);
        }

        GuestImages dir = await directoryImages.EnsureImagesAsync(null, Ct);
        GuestImages guest = kernel switch
        {
            Kernel.DirectoryNoInitrd or Kernel.DirectoryWithInitrd => dir,
            Kernel.ImageStore => new GuestImages(dir.KernelPath, Initramfs(images), dir.BaseRootfsPath, GuestCommandLine.Create().Build()),
            _ => new GuestImages(dir.KernelPath, Initramfs(images), dir.BaseRootfsPath, GuestCommandLine.Create().Build(), ImageStoreProvider.EmulatedCpuTemplate),
        };
        Assert.Equal(kernel != Kernel.DirectoryNoInitrd, guest.InitrdPath is not null);

        var ws = JobWorkspace.For(Path.Combine(_dir, "state"), jobId);
        Directory.CreateDirectory(ws.Directory);
        string overlay = await directoryImages.CreateOverlayAsync(ws.Directory, Ct);
        GuestNetwork? net = network ? GuestNetwork.For(jobId) : null;
        FdIo.MakeFifo(ws.SerialFifoPath);
        SerialFifoStream serial = SerialFifoStream.Open(ws.SerialFifoPath);
        var spec = new JobSpec
        {
            Name = "contract", Env = new Dictionary<string, string> { ["A"] = "b" },
            Steps = [new StepSpec { Name = "Build", Run = "make 2>&1 && echo '<done>'" }],
        };
        var request = new VmLaunchRequest(JobWorkspace.VmId(jobId), ws,
            With(extras, VmConfigBuilder.Build(guest, overlay, vcpus, memoryMib, ws, net), ws),
            MmdsTree.Build(jobId, "contract", TimeSpan.FromMinutes(5), spec, new Dictionary<string, string> { ["TOKEN"] = "t0k3n" }, network ? "eyJqaXQiOjF9" : null, net));
        Assert.Equal(network, request.VmConfig.NetworkInterfaces.Count == 1);
        Assert.Equal(network, request.VmConfig.MmdsConfig is not null);
        return (request, serial);
    }

    /// <summary><paramref name="config"/> with the sections of <paramref name="extras"/> added.</summary>
    private static VmConfig With(Extras extras, VmConfig config, JobWorkspace ws)
    {
        var limiter = new RateLimiterConfig
        {
            Bandwidth = new TokenBucketConfig { Size = 64L << 20, RefillTime = 100 },
            Ops = new TokenBucketConfig { Size = 4000, OneTimeBurst = 1000, RefillTime = 1000 },
        };
        if (extras.HasFlag(Extras.RateLimiters))
        {
            config = config with
            {
                Drives = [.. config.Drives.Select(d => d with { RateLimiter = limiter })],
                NetworkInterfaces = [.. config.NetworkInterfaces.Select(n => n with { RxRateLimiter = limiter, TxRateLimiter = limiter })],
            };
        }

        if (extras.HasFlag(Extras.Vsock))
        {
            config = config with { Vsock = new VsockConfig { VsockId = "vsock0", GuestCid = 3, UdsPath = Path.Combine(ws.Directory, "vsock.sock") } };
        }

        if (extras.HasFlag(Extras.Entropy))
        {
            config = config with { Entropy = new EntropyConfig { RateLimiter = limiter with { Bandwidth = new TokenBucketConfig { Size = 4096, RefillTime = 100 } } } };
        }

        return config;
    }

    private static string Initramfs(string images)
    {
        string path = Path.Combine(images, "initramfs.cpio.gz");
        File.WriteAllBytes(path, new byte[512]);
        return path;
    }

    private static async Task<(int Exit, string Stderr)> RunVmmAsync(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(VmmPath, args) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(Ct);
        string stderr = await p.StandardError.ReadToEndAsync(Ct);
        await stdout;
        await p.WaitForExitAsync(Ct);
        return (p.ExitCode, stderr);
    }

    /// <summary>The launcher does not leave a VMM behind when the start is refused.</summary>
    private static async Task AssertExitedAsync(int pid)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(60); await Task.Delay(20, Ct))
        {
            if (!ProcessInspector.CommandLineContains(pid, "kindling-vm-"))
            {
                return;
            }
        }

        Assert.Fail($"kindling-vmm {pid} was left running after a refused start");
    }
}
