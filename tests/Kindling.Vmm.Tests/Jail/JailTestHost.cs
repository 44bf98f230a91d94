using System.Diagnostics;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>Jail tests change cgroups, mounts and /proc-visible processes: one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class JailCollection
{
    public const string Name = "jail";
}

/// <summary>A scratch chroot base per test, the real kindling-vmm.dll, and helpers to talk to jailed processes.</summary>
internal sealed class JailTestHost : IDisposable
{
    public const uint Uid = 40123;
    public const uint Gid = 40124;

    public JailTestHost()
    {
        ChrootBase = Path.Combine(Path.GetTempPath(), "kindling-jail-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(ChrootBase);
        Kernel = Path.Combine(ChrootBase, "vmlinux.bin");
        File.WriteAllText(Kernel, "not a kernel");
    }

    public static string AppPath => Path.Combine(AppContext.BaseDirectory, "kindling-vmm.dll");

    public string ChrootBase { get; }

    public string Kernel { get; }

    public List<string> Ids { get; } = [];

    public string NewId()
    {
        string id = "t-" + Guid.NewGuid().ToString("N")[..10];
        Ids.Add(id);
        return id;
    }

    public JailSpec Spec(string id, JailDebugAction action) => new()
    {
        Id = id,
        Uid = Uid,
        Gid = Gid,
        ChrootBase = ChrootBase,
        RequireKvm = false,
        AppPath = AppPath,
        Resources = [new JailResource(Kernel, "/vmlinux")],
        Limits = new JailCgroupLimits { CpuQuotaMicros = 50_000, MemoryBytes = 512L << 20, PidsMax = 64 },
        RlimitNoFile = 1024,
        RlimitFsize = 1L << 30,
        DebugAction = action,
    };

    /// <summary>Reads one line of stdout within 60 s.</summary>
    public static async Task<string> ReadLineAsync(Process process)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        return line ?? throw new InvalidOperationException($"the jailed process closed stdout; stderr: {await process.StandardError.ReadToEndAsync(timeout.Token)}");
    }

    public static async Task<int> WaitExitAsync(Process process)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode;
    }

    /// <summary>The jailed runtime: the child of the unshare process (the namespace's pid 1).</summary>
    public static int JailedChild(int unsharePid)
    {
        string children = File.ReadAllText($"/proc/{unsharePid}/task/{unsharePid}/children").Trim();
        return int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        foreach (string id in Ids)
        {
            JailTeardown.Destroy(id, ChrootBase);
        }

        JailTree.Remove(ChrootBase);
    }
}
