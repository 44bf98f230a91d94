using System.Text;
using Kindling.Native;
using NativeRunner = Kindling.Native.ProcessRunner;

namespace Kindling.Images.Tools;

/// <summary>
/// Runs the external tools the image builders drive (apt-get, dpkg-deb, depmod, mkfs.ext4, debootstrap) through
/// the one process runner, in the C locale. A tool that is not installed, or that fails, becomes an
/// <see cref="ImageBuildException"/> naming the tool, its arguments, the tail of its error output and the Debian
/// package that provides it.
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
        Dictionary<string, string> env = new(StringComparer.Ordinal) { ["LC_ALL"] = "C" };
        foreach ((string k, string v) in environment ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        ProcessResult result;
        try
        {
            result = await NativeRunner.RunAsync(
                fileName,
                arguments,
                new ProcessOptions { WorkingDirectory = workingDirectory, Environment = env, OnOutputLine = onOutputLine },
                cancellationToken);
        }
        catch (ProcessStartException e)
        {
            throw new ImageBuildException(
                $"'{fileName}' could not be run ({e.InnerException?.Message}); install it: apt-get install -y {ToolPackages.For(fileName)}", e);
        }

        if (throwOnFailure && result.ExitCode != 0)
        {
            throw new ImageBuildException(Describe(fileName, arguments, result));
        }

        return result;
    }

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
