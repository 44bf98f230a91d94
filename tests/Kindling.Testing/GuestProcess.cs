using System.Diagnostics;
using System.Text;

namespace Kindling.Testing;

/// <summary>
/// Runs a VM process with stdin closed, collects stdout (the serial console) and stderr, timestamps the first
/// stdout byte and every serial line (the KVM probe times the <c>loop</c> guest's markers), and kills the whole process tree when it runs past its timeout, so nothing is left behind.
/// </summary>
public static class GuestProcess
{
    public static async Task<GuestRunResult> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken,
        TimeProvider? time = null, Action<string>? onLine = null)
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
        List<(TimeSpan, string)> lineTimes = [];
        List<byte> partial = [];
        Task pumpOut = Task.Run(async () =>
        {
            byte[] buffer = new byte[4096];
            Stream s = process.StandardOutput.BaseStream;
            int n;
            while ((n = await s.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                long now = time.GetTimestamp();
                firstByte ??= now;
                lock (stdout)
                {
                    stdout.Write(buffer, 0, n);
                }

                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] == (byte)'\n')
                    {
                        string line = Encoding.UTF8.GetString([.. partial]).TrimEnd('\r');
                        lock (lineTimes)
                        {
                            lineTimes.Add((time.GetElapsedTime(started, now), line));
                        }

                        onLine?.Invoke(line);

                        partial.Clear();
                    }
                    else
                    {
                        partial.Add(buffer[i]);
                    }
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

        List<(TimeSpan, string)> lines;
        lock (lineTimes)
        {
            lines = [.. lineTimes];
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new GuestRunResult(
            timedOut ? -1 : process.ExitCode, timedOut, serial, stderr,
            firstByte is { } fb ? time.GetElapsedTime(started, fb) : null, time.GetElapsedTime(started, ended), lines);
    }
}
