using System.Diagnostics;
using System.Text;

namespace Kindling.Benchmarks.Vm;

/// <summary>What to run: an executable, its arguments and environment changes (null value = remove).</summary>
internal sealed record VmCommand(string FileName, IReadOnlyList<string> Arguments)
{
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Start from an empty environment (as the jail does) before applying <see cref="Environment"/>.</summary>
    public bool ClearEnvironment { get; init; }

    public VmCommand WithEnvironment(string name, string? value) =>
        this with { Environment = new Dictionary<string, string?>(Environment) { [name] = value } };
}

/// <summary>
/// One VMM process with the serial console on its stdout pipe. A dedicated thread sits in a blocking read on the
/// pipe from before the process starts running, so the first byte is timestamped as it arrives (no thread-pool
/// hop). Times are from just before <see cref="Process.Start()"/> (fork/exec included).
/// </summary>
internal sealed class VmProcess : IDisposable
{
    private readonly Process _process;
    private readonly Thread _reader;
    private readonly Task<string> _stderr;
    private readonly ManualResetEventSlim _firstByte = new();
    private readonly StringBuilder _stdout = new();
    private readonly object _lock = new();
    private long _firstByteTimestamp;
    private bool _stdoutClosed;

    private VmProcess(Process process, long started)
    {
        _process = process;
        StartTimestamp = started;
        _stderr = process.StandardError.ReadToEndAsync();
        _reader = new Thread(ReadStdout) { IsBackground = true, Name = "vm-stdout" };
        _reader.Start();
    }

    public long StartTimestamp { get; }

    public int Id => _process.Id;

    public Process Process => _process;

    /// <summary>Starts <paramref name="command"/> with stdout/stderr piped (and stdin closed unless told otherwise).</summary>
    public static VmProcess Start(VmCommand command, bool redirectStdin = true)
    {
        var psi = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        foreach (string a in command.Arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (command.ClearEnvironment)
        {
            psi.Environment.Clear();
        }

        foreach ((string name, string? value) in command.Environment)
        {
            if (value is null)
            {
                psi.Environment.Remove(name);
            }
            else
            {
                psi.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = psi };
        long started = Stopwatch.GetTimestamp();
        if (!process.Start())
        {
            throw new InvalidOperationException($"{command.FileName} did not start");
        }

        if (redirectStdin)
        {
            process.StandardInput.Close();
        }

        return new VmProcess(process, started);
    }

    /// <summary>Wraps an already started process (e.g. the jail's unshare) whose stdout is redirected.</summary>
    public static VmProcess Adopt(Process process, long started) => new(process, started);

    private void ReadStdout()
    {
        Stream s = _process.StandardOutput.BaseStream;
        byte[] buffer = new byte[4096];
        try
        {
            int n;
            while ((n = s.Read(buffer, 0, buffer.Length)) > 0)
            {
                long now = Stopwatch.GetTimestamp();
                lock (_lock)
                {
                    if (_firstByteTimestamp == 0)
                    {
                        _firstByteTimestamp = now;
                    }

                    _stdout.Append(Encoding.UTF8.GetString(buffer, 0, n));
                    Monitor.PulseAll(_lock);
                }

                _firstByte.Set();
            }
        }
        catch (IOException)
        {
            // The pipe broke when the process was killed.
        }
        finally
        {
            lock (_lock)
            {
                _stdoutClosed = true;
                Monitor.PulseAll(_lock);
            }

            _firstByte.Set();
        }
    }

    /// <summary>Milliseconds from <paramref name="origin"/> (default: process start) to the first stdout byte.</summary>
    public double WaitFirstByteMs(TimeSpan timeout, long? origin = null)
    {
        if (!_firstByte.Wait(timeout))
        {
            throw Failure($"no serial byte within {timeout.TotalSeconds:F0} s");
        }

        lock (_lock)
        {
            if (_firstByteTimestamp == 0)
            {
                throw Failure("stdout closed before any serial byte");
            }

            return Stopwatch.GetElapsedTime(origin ?? StartTimestamp, _firstByteTimestamp).TotalMilliseconds;
        }
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>.</summary>
    public void WaitForOutput(string text, TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_lock)
        {
            while (!_stdout.ToString().Contains(text, StringComparison.Ordinal))
            {
                long left = deadline - Stopwatch.GetTimestamp();
                if (_stdoutClosed || left <= 0)
                {
                    throw Failure($"'{text}' did not appear on the serial console within {timeout.TotalSeconds:F0} s");
                }

                Monitor.Wait(_lock, TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            }
        }
    }

    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Everything the process wrote to stderr (after <see cref="WaitExit"/>).</summary>
    public string Stderr => _stderr.Wait(TimeSpan.FromSeconds(5)) ? _stderr.Result : "";

    /// <summary>Waits for the process to exit (killing it past <paramref name="timeout"/>); returns its exit code.</summary>
    public int WaitExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw Failure($"did not exit within {timeout.TotalSeconds:F0} s");
        }

        _process.WaitForExit();
        _reader.Join(TimeSpan.FromSeconds(5));
        return _process.ExitCode;
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.WaitForExit(TimeSpan.FromSeconds(10));
    }

    public InvalidOperationException Failure(string what)
    {
        string stderr = _stderr.IsCompleted ? _stderr.Result : "(still running)";
        if (!_process.HasExited)
        {
            Kill();
            stderr = _stderr.Wait(TimeSpan.FromSeconds(2)) ? _stderr.Result : stderr;
        }

        return new InvalidOperationException($"{_process.StartInfo.FileName}: {what}; stdout: {Trim(Stdout)}; stderr: {Trim(stderr)}");
    }

    private static string Trim(string s) => s.Length > 600 ? s[..600] + "…" : s.Trim();

    public void Dispose()
    {
        Kill();
        _firstByte.Dispose();
        _process.Dispose();
    }
}
