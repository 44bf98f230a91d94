using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Kindling.Runner.Tests;

/// <summary>
/// <c>kindling daemon --config FILE</c> as a child process, its output kept for failure messages, and what the
/// process-level tests look at around it: the processes under a state directory, the host's guest-network TAPs.
/// </summary>
internal sealed class DaemonProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output;
    private readonly Process _process;

    private DaemonProcess(Process process, ConcurrentQueue<string> output) => (_process, _output) = (process, output);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the daemon; its output goes to <paramref name="output"/> (several daemons may share one).</summary>
    public static DaemonProcess Start(string config, ConcurrentQueue<string>? output = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "kindling"), ["daemon", "--config", config])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        output ??= new();
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new DaemonProcess(p, output);
    }

    public string Output => string.Join('\n', _output);

    /// <summary>
    /// SIGKILL (no shutdown code runs), then waits for the exit and for end of file on the daemon's stdout and
    /// stderr. A process the daemon started that still holds those pipes keeps them open: that is a defect (a
    /// supervisor reading the daemon's output would wait on every VM a crashed daemon left), reported here with the
    /// processes under <paramref name="stateDirectory"/>.
    /// </summary>
    public async Task KillAsync(TimeSpan exitWait, string stateDirectory)
    {
        _process.Kill();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        wait.CancelAfter(exitWait);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            string holders = string.Join(", ", ProcessesUnder(stateDirectory).Select(pid => $"{pid} ({Cmdline(pid)})"));
            Assert.Fail($"the daemon was SIGKILLed but its stdout/stderr stayed open for {exitWait}: a process it started inherited them ({holders})");
        }
    }

    /// <summary>Kills it if it still runs (a failed test's leftover).</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    /// <summary>Live processes whose working directory is under <paramref name="root"/> (VMs start in their job directory).</summary>
    public static List<int> ProcessesUnder(string root)
    {
        List<int> found = [];
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                string? cwd = new DirectoryInfo(Path.Combine(dir, "cwd")).LinkTarget;
                if (cwd is not null && cwd.StartsWith(root, StringComparison.Ordinal) && !IsZombie(pid))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    /// <summary>Kills what <see cref="ProcessesUnder"/> finds (a failed test must not leave its VMs running).</summary>
    public static void KillProcessesUnder(string root)
    {
        foreach (int pid in ProcessesUnder(root))
        {
            try
            {
                Process.GetProcessById(pid).Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    public static string Cmdline(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static async Task<int> NftAsync(string arguments)
    {
        try
        {
            using Process nft = Process.Start(new ProcessStartInfo("nft", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            await Task.WhenAll(nft.StandardOutput.ReadToEndAsync(), nft.StandardError.ReadToEndAsync());
            await nft.WaitForExitAsync();
            return nft.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1; // no nft: nothing was created either
        }
    }

    /// <summary>The TAPs with elements in this host's table inet kindling (none when nft or the table is absent).</summary>
    public static async Task<IReadOnlyList<string>> GuestNetworkTapsAsync()
    {
        await using var network = new Kindling.Runner.Network.GuestNetworkService(new(), []);
        return await network.ListTapsAsync(CancellationToken.None);
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }
}
