using System.Diagnostics;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>The whole path: the VMM runs the hello test guest from inside its jail (seccomp filter included).</summary>
[Collection(JailCollection.Name)]
public sealed class JailedGuestTests : IDisposable
{
    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [KvmFact]
    public async Task Start_HelloGuestInJail_PrintsPassAndExitsZero()
    {
        if (HostFacts.RootUnavailableReason is { } notRoot)
        {
            Assert.Skip(notRoot);
        }

        JailTestHost.RequireWiredCli();
        string guest = BuildGuest();
        string config = Path.Combine(_host.ChrootBase, "vm.json");
        await File.WriteAllTextAsync(config, """
            {
              "boot-source": { "kernel_image_path": "/guest.elf", "boot_args": "console=ttyS0 kindling.test=hello" },
              "drives": [],
              "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 }
            }
            """, TestContext.Current.CancellationToken);
        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.None) with
        {
            RequireKvm = true,
            Resources = [new JailResource(guest, "/guest.elf"), new JailResource(config, "/vm.json")],
            Limits = new JailCgroupLimits { MemoryBytes = 512L << 20, PidsMax = 64 },
            VmmArgs = ["--config-file", "/vm.json", "--no-api", "--id", id],
        };

        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        jail.StandardInput.Close();
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        Task<string> stderr = jail.StandardError.ReadToEndAsync(timeout.Token);
        string stdout = await jail.StandardOutput.ReadToEndAsync(timeout.Token);
        await jail.WaitForExitAsync(timeout.Token);

        Assert.True(jail.ExitCode == 0, $"exit {jail.ExitCode}; stdout:\n{stdout}\nstderr:\n{await stderr}");
        Assert.Contains("KINDLING-TEST hello PASS", stdout, StringComparison.Ordinal);
        Assert.Empty(JailTeardown.Destroy(id, _host.ChrootBase).Leftovers);
    }

    private string BuildGuest()
    {
        string source = Path.Combine(RepoPaths.Root, "tests", "guests");
        if (!File.Exists(Path.Combine(source, "Makefile")))
        {
            Assert.Skip($"the test guest sources ({source}) are not in this tree");
        }

        string outDir = Path.Combine(_host.ChrootBase, "guest");
        ProcessStartInfo start = new("make") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[] { "-C", source, $"OUT={outDir}" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process make = Process.Start(start)!;
        string error = make.StandardError.ReadToEnd();
        make.StandardOutput.ReadToEnd();
        make.WaitForExit();
        Assert.True(make.ExitCode == 0, $"make -C {source} failed: {error}");
        return Path.Combine(outDir, "kindling-test-guest.elf");
    }
}
