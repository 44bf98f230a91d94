using System.Diagnostics;
using System.Globalization;
using Kindling.Images;
using Kindling.Images.ActionsRunner;
using Kindling.Images.Rootfs;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// GitHubJobEndToEndTests in a real microVM: the <c>github</c> image (debootstrap, with <see cref="FakeActionsRunner"/>
/// as the release), the guest kernel, kindling-vmm, a TAP, the agent running run.sh as <c>runner</c>. The guest
/// reaches the fake's runner service at its gateway, the TAP's host address (the fake listens on every address).
/// Needs /dev/kvm and root; on a host whose KVM emulates guest kernel code it takes many minutes (the first run also
/// builds the image and Kindling's kernel into the test cache).
/// </summary>
public sealed class GitHubJobMicroVmTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(45);

    [KvmFact]
    public async Task Run_GitHubJobInMicroVm_QueuedInProgressCompletedNothingLeftJitConfigNowhere()
    {
        Assert.SkipWhen(HostFacts.RootUnavailableReason is not null, HostFacts.RootUnavailableReason ?? "");
        string vmm = Path.Combine(AppContext.BaseDirectory, "kindling-vmm");
        Assert.SkipUnless(File.Exists(vmm), $"{vmm} is not built");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(Limit);

        await using FakeGitHub fake = await FakeGitHub.StartAsync(listenAddress: "0.0.0.0");
        // Job 1 of a fresh JobStore: its guest's gateway is the host end of its TAP.
        string gateway = GuestNetwork.For(1).HostAddress;
        fake.RunnerServiceUrl = new Uri($"http://{gateway}:{fake.BaseUrl.Port.ToString(CultureInfo.InvariantCulture)}/");
        FakeJob build = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");

        byte[] tarball = FakeActionsRunner.Tarball();
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tarball));
        string release = Path.Combine(Directory.CreateDirectory(RepoPaths.Cache).FullName, $"fake-actions-runner-{hash[..12]}.tar.gz");
        await File.WriteAllBytesAsync(release, tarball, cts.Token);
        var images = new ImageStoreProvider(
            new ImageStore(new ImageStoreOptions
            {
                CacheDirectory = Path.Combine(RepoPaths.Cache, "images"), GuestDirectory = Path.Combine(RepoPaths.Root, "images", "guest"),
                // The version GithubFlavourTests builds the same tarball as, so the slow test's cached image serves here too.
                ActionsRunner = new ActionsRunnerSource("2.338.0", hash, File: release),
            }),
            Flavour.Github,
            () => KvmHost.Probe(vmm));
        var launcher = new RecordingLauncher(new VmmLauncher(vmm));
        await using var h = new RunnerHarness(
            new()
            {
                ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
                ["Kindling:Tenants:0:Credentials:Token"] = "ghp_x", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
                ["Kindling:Launcher:Kind"] = "vmm", ["Kindling:Launcher:Network"] = "true", ["Kindling:Launcher:VmmPath"] = vmm,
                ["Kindling:Pools:0:Vcpus"] = "2", ["Kindling:Pools:0:MemoryMib"] = "1024",
                ["Kindling:Network:HostPorts:0"] = fake.BaseUrl.Port.ToString(CultureInfo.InvariantCulture), // the guest's only way to the host
                ["Kindling:JobTimeout"] = "00:40:00", ["Kindling:PollInterval"] = "00:00:01",
            },
            services =>
            {
                services.AddSingleton<IImageProvider>(images);
                services.AddSingleton<IVmLauncher>(launcher);
            });

        await h.RunAllAsync(cts.Token);

        JobRecord job = Assert.Single(h.Store.List());
        string history = string.Join("; ", h.Store.Transitions(job.Id).Select(t => $"{t.From}->{t.To}: {t.Reason}"));
        string log = job.LogPath is { } p && File.Exists(p) ? await File.ReadAllTextAsync(p, cts.Token) : "(no log)";
        Assert.True(h.Store.Transitions(job.Id).Any(t => t.To == JobState.Succeeded), $"{history}\n{log}");
        Assert.Equal(JobState.Cleaned, job.State);
        Assert.Equal(["queued", "in_progress", "completed"], build.StatusHistory);
        Assert.Equal("success", build.Conclusion);
        Assert.Empty(fake.Runners);
        Assert.Contains(fake.Requests, r => r.Method == "DELETE" && r.Path == $"/repos/acme/app/actions/runners/{job.RunnerId}");
        Assert.Contains($"Connecting to http://{gateway}:", log, StringComparison.Ordinal);
        Assert.Contains("(user runner, uid 1001)", log, StringComparison.Ordinal); // not root
        Assert.Contains("Running job: build", log, StringComparison.Ordinal);
        Assert.Contains("debug: jitconfig=***", log, StringComparison.Ordinal);

        // Nothing left: the VMM process, the TAP, the work directory with the overlay, the network rules.
        int pid = Assert.Single(launcher.Pids);
        Assert.False(ProcessInspector.CommandLineContains(pid, job.VmId!), $"VMM {pid} of {job.VmId} is still running");
        string tap = GuestNetwork.TapNameFor(job.Id);
        Assert.False(Directory.Exists($"/sys/class/net/{tap}"), $"TAP {tap} is still there");
        Assert.False(Directory.Exists(job.WorkDir), $"{job.WorkDir} (overlay) is still there");
        Assert.DoesNotContain(tap, await NftRulesetAsync(cts.Token), StringComparison.Ordinal);

        string jit = launcher.Requests.Single().Mmds["kindling"]!["github"]!["jitconfig"]!.GetValue<string>();
        Assert.NotEmpty(jit);
        foreach (string f in Directory.GetFiles(h.StateDirectory, "*", SearchOption.AllDirectories))
        {
            Assert.False((await File.ReadAllTextAsync(f, cts.Token)).Contains(jit, StringComparison.Ordinal), $"{f} holds the JIT config");
        }
    }

    /// <summary>The host's nftables ruleset ("" where nft is missing: then no rules can be left either).</summary>
    private static async Task<string> NftRulesetAsync(CancellationToken ct)
    {
        try
        {
            using Process nft = Process.Start(new ProcessStartInfo("nft", "list ruleset") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string output = await nft.StandardOutput.ReadToEndAsync(ct);
            await nft.WaitForExitAsync(ct);
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }
}
