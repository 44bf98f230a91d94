using System.Diagnostics;
using System.Text;

namespace Kindling.Images.Tools;

/// <summary>What an external tool printed and how it ended.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs the external tools the image builders drive (apt-get, dpkg-deb, depmod, mkfs.ext4, debootstrap).
/// A tool that is not installed, or that fails, becomes an <see cref="ImageBuildException"/> naming the tool,
/// its arguments, the tail of its error output and the Debian package that provides it.
/// </summary>
internal static class ProcessRunner
{
    private const int ErrorTailChars = 1500;

    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IReadOnlyList<string> arguments,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        bool throwOnFailure = true,
        Action<string>? onOutputLine = null,
        CancellationToken cancellationToken = default)
    {
        ProcessStartInfo psi = new(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C";
        if (environment is not null)
        {
            foreach ((string k, string v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new ImageBuildException($"could not start {fileName}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ImageBuildException(
                $"'{fileName}' could not be run ({e.Message}); install it: apt-get install -y {ToolPackages.For(fileName)}", e);
        }

        using (process)
        {
            process.StandardInput.Close();
            Task<string> stdout = onOutputLine is null
                ? process.StandardOutput.ReadToEndAsync(cancellationToken)
                : ReadLinesAsync(process.StandardOutput, onOutputLine, cancellationToken);
            Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }

                throw;
            }

            ProcessResult result = new(process.ExitCode, await stdout, await stderr);
            if (throwOnFailure && result.ExitCode != 0)
            {
                throw new ImageBuildException(Describe(fileName, arguments, result));
            }

            return result;
        }
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

    /// <summary>How much of a streamed tool's output is kept for its error message.</summary>
    private const int KeptOutputChars = 64 * 1024;

    public static string Describe(string fileName, IReadOnlyList<string> arguments, ProcessResult result)
    {
        StringBuilder sb = new();
        sb.Append($"'{fileName} {string.Join(' ', arguments)}' failed with exit code {result.ExitCode}");
        string err = (result.StandardError.Length > 0 ? result.StandardError : result.StandardOutput).Trim();
        if (err.Length > ErrorTailChars)
        {
            err = "…" + err[^ErrorTailChars..];
        }

        if (err.Length > 0)
        {
            sb.Append(": ").Append(err);
        }

        if (err.Contains("No space left on device", StringComparison.OrdinalIgnoreCase)
            || err.Contains("Could not allocate block", StringComparison.OrdinalIgnoreCase))
        {
            sb.Append(" — the disk holding the image cache is full; free space or point the cache elsewhere");
        }

        return sb.ToString();
    }
}

/// <summary>The Debian package that provides each tool we run, for "install it" messages.</summary>
internal static class ToolPackages
{
    public static string For(string tool) => Path.GetFileName(tool) switch
    {
        "mkfs.ext4" or "mke2fs" or "debugfs" or "e2fsck" => "e2fsprogs",
        "apt-get" or "apt-cache" => "apt",
        "dpkg-deb" => "dpkg",
        "depmod" or "modinfo" => "kmod",
        "debootstrap" => "debootstrap",
        "xz" => "xz-utils",
        "zstd" => "zstd",
        "busybox" => "busybox-static",
        "cpio" => "cpio",
        "make" => "make",
        "patch" => "patch",
        "tar" => "tar",
        "gcc" => "gcc",
        var other => other,
    };
}
