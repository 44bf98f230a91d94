using System.Diagnostics;

namespace Kindling.Images.Tests;

/// <summary>Runs a host tool for inspecting images (debugfs, e2fsck, cpio, lz4) and returns its exit code and output.</summary>
internal static class Tools
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string file, params string[] args) =>
        await RunAsync(file, args, stdin: null, TestContext.Current.CancellationToken);

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string file, IReadOnlyList<string> args, byte[]? stdin, CancellationToken ct, IReadOnlyDictionary<string, string>? env = null)
    {
        ProcessStartInfo psi = new(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (env is not null)
        {
            foreach ((string k, string v) in env)
            {
                psi.Environment[k] = v;
            }
        }

        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(ct);
        Task<string> e = p.StandardError.ReadToEndAsync(ct);
        if (stdin is not null)
        {
            await p.StandardInput.BaseStream.WriteAsync(stdin, ct);
        }

        p.StandardInput.Close();
        await p.WaitForExitAsync(ct);
        return (p.ExitCode, await o, await e);
    }
}
