using System.Diagnostics;
using System.Text.Json.Nodes;
using Kindling.Native;
using Kindling.Images;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Launch;

/// <summary>
/// The runner's half of the VM contract against the real kindling-vmm, with no KVM needed: every vm.json that
/// <see cref="VmConfigBuilder"/> can build (each kernel/images choice, with and without initrd, network/TAP and
/// MMDS, CPU template, the smallest and the largest VM a pool may ask for, with the serial FIFO, log and metrics
/// files) is accepted section by section over the API by <see cref="VmmLauncher"/>, and as a whole by
/// <c>kindling-vmm --no-api --config-file</c>. Both stop at InstanceStart, which needs /dev/kvm: where it is
/// missing the refusal must be the KVM one, never one about the configuration.
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

    public static TheoryData<Kernel, bool, int, int> Variants()
    {
        var data = new TheoryData<Kernel, bool, int, int>();
        foreach (Kernel kernel in Enum.GetValues<Kernel>())
        {
            foreach (bool network in new[] { false, true })
            {
                data.Add(kernel, network, 1, 256);
            }
        }

        // The extremes a pool may ask for (KindlingOptionsValidator): the smallest VM, and the most vCPUs.
        data.Add(Kernel.ImageStore, true, 1, KindlingOptionsValidator.MinPoolMemoryMib);
        data.Add(Kernel.ImageStore, true, KindlingOptionsValidator.MaxPoolVcpus, 4096);
        data.Add(Kernel.DirectoryNoInitrd, false, 2, 2048);
        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task LaunchAsync_EveryConfigTheRunnerBuilds_AcceptedUpToInstanceStart(Kernel kernel, bool network, int vcpus, int memoryMib)
    {
        const long jobId = 4242;
        (VmLaunchRequest request, SerialFifoStream serial) = await PrepareAsync(kernel, network, vcpus, memoryMib, jobId);
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
    public async Task ConfigFile_EveryConfigTheRunnerBuilds_ValidatedThenRefusedOnlyForKvm(Kernel kernel, bool network, int vcpus, int memoryMib)
    {
        (VmLaunchRequest request, SerialFifoStream serial) = await PrepareAsync(kernel, network, vcpus, memoryMib, jobId: 4343);
        await using (serial)
        {
            string vmJson = Path.Combine(_dir, "vm.json");
            await File.WriteAllTextAsync(vmJson, request.VmConfig.ToJsonString(), Ct);

            (int exit, string stderr) = await RunVmmAsync(["--no-api", "--config-file", vmJson, "--id", request.VmId]);

            Assert.True(exit == 1, $"kindling-vmm exited {exit}: {stderr}");
            string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                l => l.StartsWith("kindling-vmm: ", StringComparison.Ordinal));
            AssertKvmRefusal(line);
        }
    }

    /// <summary>The contract can fail: a vm.json the VMM does not accept is refused before InstanceStart, naming the field.</summary>
    [Fact]
    public async Task LaunchAsync_ConfigTheVmmRefuses_RefusedAtThatSectionNotAtStart()
    {
        (VmLaunchRequest request, SerialFifoStream serial) = await PrepareAsync(Kernel.ImageStore, network: false, 1, 256, jobId: 4444);
        await using (serial)
        {
            request.VmConfig["machine-config"]!["vcpu_count"] = KindlingOptionsValidator.MaxPoolVcpus + 1;

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
    private async Task<(VmLaunchRequest Request, SerialFifoStream Serial)> PrepareAsync(Kernel kernel, bool network, int vcpus, int memoryMib, long jobId)
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
            Kernel.ImageStore => new GuestImages(dir.KernelPath, Initramfs(images), dir.BaseRootfsPath, new KernelCommandLine().Build()),
            _ => new GuestImages(dir.KernelPath, Initramfs(images), dir.BaseRootfsPath, new KernelCommandLine().Build(), ImageStoreProvider.EmulatedCpuTemplate),
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
            VmConfigBuilder.Build(guest, overlay, vcpus, memoryMib, ws, net),
            MmdsTree.Build(jobId, "contract", TimeSpan.FromMinutes(5), spec, new Dictionary<string, string> { ["TOKEN"] = "t0k3n" }, network ? "eyJqaXQiOjF9" : null, net));
        Assert.Equal(network, request.VmConfig["network-interfaces"]!.AsArray().Count == 1);
        Assert.Equal(network, request.VmConfig["mmds-config"] is not null);
        return (request, serial);
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
