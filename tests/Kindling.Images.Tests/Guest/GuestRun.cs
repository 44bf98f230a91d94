using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Kindling.Images.Tests.Guest;

/// <summary>What a guest-side run printed and how it ended, with the framing control lines parsed out.</summary>
internal sealed partial record GuestRunResult(int ExitCode, string Output)
{
    public IReadOnlyList<string> ControlLines =>
        Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("##kindling[", StringComparison.Ordinal)).ToArray();

    /// <summary>Control lines with the variable seconds= field removed.</summary>
    public IReadOnlyList<string> ControlLinesWithoutTimes => ControlLines.Select(l => Seconds().Replace(l, "")).ToArray();

    public static string B64Url(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string FromB64Url(string s)
    {
        string b = s.Replace('-', '+').Replace('_', '/');
        return Encoding.UTF8.GetString(Convert.FromBase64String(b.PadRight(b.Length + ((4 - (b.Length % 4)) % 4), '=')));
    }

    [GeneratedRegex(@" seconds=[0-9.]+")]
    private static partial Regex Seconds();
}

/// <summary>
/// Runs guest user space outside a VM (KVM-HERE.md §4): inside <c>ip netns exec NS</c> (the test's network
/// namespace with MMDS) and <c>unshare --mount --pid --fork</c> (private mounts; the shell is PID 1 of a new PID
/// namespace, so even a reboot(2) could only end that namespace). The agent's reboot is also switched off with
/// KINDLING_AGENT_NO_REBOOT=1, and the host's /proc/cmdline lacks kindling.agent=1.
/// </summary>
internal static class GuestRun
{
    public static async Task<GuestRunResult> RunAsync(string netns, string script, IReadOnlyDictionary<string, string> env, CancellationToken ct)
    {
        string file = Path.Combine(Path.GetTempPath(), $"kindling-guest-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(file, script, ct);
        try
        {
            List<string> args = ["netns", "exec", netns, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KINDLING_AGENT_NO_REBOOT=1"];
            args.AddRange(env.Select(kv => $"{kv.Key}={kv.Value}"));
            args.AddRange(["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "sh", file]);
            ProcessStartInfo psi = new("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            args.ForEach(psi.ArgumentList.Add);
            using Process p = Process.Start(psi)!;
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            Task<string> o = p.StandardOutput.ReadToEndAsync(timeout.Token);
            Task<string> e = p.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await p.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                throw;
            }

            return new GuestRunResult(p.ExitCode, await o + await e);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
