using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Kindling.Native;

/// <summary>What a program printed and how it ended.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>How <see cref="ProcessRunner"/> runs a program; every part optional.</summary>
public sealed record ProcessOptions
{
    /// <summary>The working directory (default: this process's).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Variables set for the program on top of this process's environment.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Each line of standard output as it arrives; the result then keeps only the last 64 KiB of it.</summary>
    public Action<string>? OnOutputLine { get; init; }

    /// <summary>Reads standard output as a stream instead (a tar archive); the result's output is then empty.</summary>
    public Func<Stream, CancellationToken, Task>? ReadOutput { get; init; }

    /// <summary>How long the program may run; past it, it is killed and <see cref="ProcessTimeoutException"/> thrown.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>The program could not be started (not installed, not executable).</summary>
public sealed class ProcessStartException(string fileName, Exception inner)
    : IOException($"'{fileName}' could not be run ({inner.Message})", inner)
{
    public string FileName { get; } = fileName;

    /// <summary>Why it could not start, as the system said it ("No such file or directory").</summary>
    public string Reason => InnerException?.Message ?? Message;
}

/// <summary>The program ran past <see cref="ProcessOptions.Timeout"/> and was killed.</summary>
public sealed class ProcessTimeoutException(string fileName, TimeSpan timeout)
    : TimeoutException($"{fileName} did not finish within {timeout.TotalSeconds:F0} s")
{
    public string FileName { get; } = fileName;
}

/// <summary>
/// Runs an external program to its end: standard input closed, standard output and error captured, the process tree
/// killed when the caller cancels or the timeout passes. The one launcher of short-lived tools (ip, git, mkfs.ext4,
/// apt-get, kindling-vmm probe-kvm and jail commands); callers turn a failure into their own message.
/// </summary>
public static class ProcessRunner
{
    /// <summary>How much of a streamed program's output is kept for the result.</summary>
    private const int KeptOutputChars = 64 * 1024;

    /// <summary>
    /// Runs <paramref name="fileName"/> with <paramref name="arguments"/>; the result whatever the exit code.
    /// Throws <see cref="ProcessStartException"/> when it cannot start, <see cref="ProcessTimeoutException"/> past
    /// the timeout, and <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName, IReadOnlyList<string> arguments, ProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ProcessOptions();
        using Process process = Start(fileName, arguments, options);
        process.StandardInput.Close();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.Timeout is { } timeout)
        {
            wait.CancelAfter(timeout);
        }

        try
        {
            Task<string> stdout = options.ReadOutput is { } read
                ? ReadStreamAsync(process.StandardOutput.BaseStream, read, wait.Token)
                : options.OnOutputLine is { } onLine
                    ? ReadLinesAsync(process.StandardOutput, onLine, wait.Token)
                    : process.StandardOutput.ReadToEndAsync(wait.Token);
            Task<string> stderr = process.StandardError.ReadToEndAsync(wait.Token);
            await process.WaitForExitAsync(wait.Token);
            return new ProcessResult(process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            if (!cancellationToken.IsCancellationRequested && options.Timeout is { } limit)
            {
                throw new ProcessTimeoutException(fileName, limit);
            }

            throw;
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    /// <summary><see cref="RunAsync"/> for callers with no async path (a CLI verb, a probe at start-up).</summary>
    public static ProcessResult Run(string fileName, IReadOnlyList<string> arguments, ProcessOptions? options = null) =>
        RunAsync(fileName, arguments, options).GetAwaiter().GetResult();

    private static Process Start(string fileName, IReadOnlyList<string> arguments, ProcessOptions options)
    {
        ProcessStartInfo psi = new(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = options.WorkingDirectory ?? System.Environment.CurrentDirectory,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (options.Environment is not null)
        {
            foreach ((string k, string v) in options.Environment)
            {
                psi.Environment[k] = v;
            }
        }

        try
        {
            return Process.Start(psi) ?? throw new ProcessStartException(fileName, new InvalidOperationException("no process was started"));
        }
        catch (Win32Exception e)
        {
            throw new ProcessStartException(fileName, e);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static async Task<string> ReadStreamAsync(Stream output, Func<Stream, CancellationToken, Task> read, CancellationToken ct)
    {
        await read(output, ct);
        return "";
    }

    /// <summary>Hands each line to <paramref name="onLine"/> as it arrives; returns the last <see cref="KeptOutputChars"/> characters.</summary>
    private static async Task<string> ReadLinesAsync(StreamReader reader, Action<string> onLine, CancellationToken ct)
    {
        StringBuilder kept = new();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            onLine(line);
            kept.Append(line).Append('\n');
            if (kept.Length > 2 * KeptOutputChars)
            {
                kept.Remove(0, kept.Length - KeptOutputChars);
            }
        }

        return kept.ToString();
    }
}
