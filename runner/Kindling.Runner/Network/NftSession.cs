using System.Diagnostics;
using System.Text;

namespace Kindling.Runner.Network;

/// <summary>
/// One long-lived <c>nft -i</c> (errors merged into its output), so a VM's batch costs a pipe write and a netlink
/// transaction instead of starting nft. Each batch is sent as one line (one transaction, as <c>nft -f</c> makes it),
/// followed by <c>list counter inet kindling sync</c>: its listing marks the end of the batch's answer, and an
/// <c>Error:</c> line before it is the batch's refusal. Anything unexpected (nft gone, no answer in time) ends the
/// session; the caller then runs <c>nft -f</c> as before.
/// </summary>
internal sealed class NftSession : IDisposable
{
    public const string SyncCounter = "sync";
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _broken;

    private NftSession(Process process) => _process = process;

    public bool IsBroken => _broken || _process.HasExited;

    public static NftSession? TryStart(NetworkHost host)
    {
        var psi = new ProcessStartInfo(host.Namespace is null ? "sh" : "ip")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false,
        };
        foreach (string a in host.Namespace is null ? ["-c", "exec nft -i 2>&1"] : (string[])["netns", "exec", host.Namespace, "sh", "-c", "exec nft -i 2>&1"])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C";
        try
        {
            return Process.Start(psi) is { } p ? new NftSession(p) : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="batch"/> (nft -f text) as one transaction: null when it was applied, else nft's error.</summary>
    /// <exception cref="IOException">The session is unusable (it is then broken for good).</exception>
    public async Task<string?> RunAsync(string batch, CancellationToken ct)
    {
        string line = string.Join("; ", batch.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        await _gate.WaitAsync(ct);
        try
        {
            if (IsBroken)
            {
                throw new IOException("the nft session has ended");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(AnswerTimeout);
            try
            {
                await _process.StandardInput.WriteAsync($"{line}\nlist counter {NftRuleset.Table} {SyncCounter}\n".AsMemory(), timeout.Token);
                await _process.StandardInput.FlushAsync(timeout.Token);
                var errors = new StringBuilder();
                bool inSync = false;
                while (true)
                {
                    string? output = await _process.StandardOutput.ReadLineAsync(timeout.Token)
                        ?? throw new IOException("nft -i ended");
                    if (output.Trim() == $"counter {SyncCounter} {{")
                    {
                        inSync = true;
                    }
                    else if (inSync && output == "}")
                    {
                        return errors.Length == 0 ? null : errors.ToString().Trim();
                    }
                    else if (output.StartsWith("Error:", StringComparison.Ordinal) || errors.Length > 0 && !output.StartsWith("table ", StringComparison.Ordinal))
                    {
                        errors.AppendLine(output);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException && !ct.IsCancellationRequested)
            {
                _broken = true;
                throw new IOException($"the nft session stopped answering: {e.Message}", e);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(1000))
            {
                _process.Kill();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
        }

        _process.Dispose();
        _gate.Dispose();
    }
}
