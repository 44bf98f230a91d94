using System.Diagnostics;
using System.Net.Sockets;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>Jail tests change cgroups, mounts and /proc-visible processes: one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class JailCollection
{
    public const string Name = "jail";
}

/// <summary>
/// A scratch chroot base per test, the real kindling-vmm (its dll, or the native build named by
/// <see cref="Cli.VmmProcess.NativeVariable"/>), and helpers to talk to jailed processes.
/// </summary>
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

    public static string AppPath => Cli.VmmProcess.NativePath ?? Path.Combine(AppContext.BaseDirectory, "kindling-vmm.dll");

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

    private static readonly TimeSpan ApiWait = TimeSpan.FromMinutes(2);

    /// <summary>GET / on a jailed VMM's API socket, retried until the VMM listens; fails with its stderr when it exits.</summary>
    public static async Task<string> GetWhenListeningAsync(string socket, Process jail, Task<string> stderr)
    {
        using var client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), token);
                return new NetworkStream(s, ownsSocket: true);
            },
        }) { BaseAddress = new Uri("http://localhost") };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await client.GetStringAsync("/", TestContext.Current.CancellationToken);
            }
            catch (HttpRequestException) when (!jail.HasExited && clock.Elapsed < ApiWait)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken); // the socket appears once the runtime has started
            }
            catch (HttpRequestException e)
            {
                string why = jail.HasExited ? $"the jail exited {jail.ExitCode}: {await stderr}" : $"no answer within {ApiWait}";
                throw new InvalidOperationException($"the jailed kindling-vmm never answered on {socket}: {why}", e);
            }
        }
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
