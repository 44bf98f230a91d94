using System.Diagnostics;
using System.Text;

namespace Kindling.Testing;

/// <summary>What a bounded run of a VM process (QEMU or kindling-vmm) left behind.</summary>
/// <param name="ExitCode">The exit status; -1 when the run was killed on its timeout.</param>
/// <param name="TimedOut">True when the process ran past its timeout and was killed.</param>
/// <param name="Serial">Everything on stdout: the guest's serial console.</param>
/// <param name="Stderr">Everything on stderr: the VM process's own messages.</param>
/// <param name="FirstByte">From process start to the first byte on stdout; null when nothing came.</param>
/// <param name="Elapsed">From process start to its exit (or kill).</param>
public sealed record GuestRunResult(int ExitCode, bool TimedOut, string Serial, string Stderr, TimeSpan? FirstByte, TimeSpan Elapsed)
{
    /// <summary>The line a guest prints when scenario <paramref name="name"/> passed.</summary>
    public static string PassLine(string name) => $"KINDLING-TEST {name} PASS";

    /// <summary>True when the serial console carries the PASS line of <paramref name="name"/> and no FAIL line.</summary>
    public bool Passed(string name) =>
        Lines.Contains(PassLine(name)) && !Lines.Any(l => l.StartsWith($"KINDLING-TEST {name} FAIL", StringComparison.Ordinal));

    /// <summary>Serial output split into lines, carriage returns removed.</summary>
    public IReadOnlyList<string> Lines => Serial.Replace("\r", "", StringComparison.Ordinal).Split('\n');

    /// <summary>A failure message: exit status, timing and both output streams.</summary>
    public string Describe() =>
        $"exit {ExitCode}{(TimedOut ? " (killed on timeout)" : "")} after {Elapsed.TotalSeconds:F1} s\n" +
        $"--- serial ---\n{Serial}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs a VM process with stdin closed, collects stdout (the serial console) and stderr, timestamps the first
/// stdout byte, and kills the whole process tree when it runs past its timeout, so nothing is left behind.
/// </summary>
public static class GuestProcess
{
    public static async Task<GuestRunResult> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken,
        TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        ProcessStartInfo psi = new(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using Process process = new() { StartInfo = psi };
        long started = time.GetTimestamp();
        if (!process.Start())
        {
            throw new InvalidOperationException($"{fileName} did not start");
        }

        process.StandardInput.Close();
        long? firstByte = null;
        MemoryStream stdout = new();
        Task pumpOut = Task.Run(async () =>
        {
            byte[] buffer = new byte[4096];
            Stream s = process.StandardOutput.BaseStream;
            int n;
            while ((n = await s.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                firstByte ??= time.GetTimestamp();
                lock (stdout)
                {
                    stdout.Write(buffer, 0, n);
                }
            }
        }, CancellationToken.None);
        Task<string> pumpErr = process.StandardError.ReadToEndAsync(CancellationToken.None);

        bool timedOut = false;
        using (CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }

        long ended = time.GetTimestamp();
        await pumpOut;
        string stderr = await pumpErr;
        string serial;
        lock (stdout)
        {
            serial = Encoding.UTF8.GetString(stdout.ToArray());
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new GuestRunResult(
            timedOut ? -1 : process.ExitCode, timedOut, serial, stderr,
            firstByte is { } fb ? time.GetElapsedTime(started, fb) : null, time.GetElapsedTime(started, ended));
    }
}
