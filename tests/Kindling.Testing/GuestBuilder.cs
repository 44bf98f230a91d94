using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Kindling.Testing;

/// <summary>
/// Builds the freestanding test guest (tests/guests, one ELF with every scenario) with gcc/make, once per test run
/// and source version: the image lands in <c>RepoPaths.Cache/guests/&lt;source hash&gt;/</c>, built in a temporary
/// directory and renamed into place, so concurrent test processes never see half an image.
/// </summary>
public static class GuestBuilder
{
    /// <summary>The image's file name inside the build directory.</summary>
    public const string ImageName = "kindling-test-guest.elf";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(3);
    private static readonly Lazy<string> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>tests/guests in the repository.</summary>
    public static string SourceDirectory => Path.Combine(RepoPaths.Root, "tests", "guests");

    /// <summary>The built guest ELF (built on first use).</summary>
    public static string ImagePath => Built.Value;

    private static string Build()
    {
        string hash = HashSources();
        string root = Path.Combine(RepoPaths.Cache, "guests");
        string final = Path.Combine(root, hash);
        string image = Path.Combine(final, ImageName);
        if (File.Exists(image))
        {
            return image;
        }

        Directory.CreateDirectory(root);
        string temp = Path.Combine(root, $"{hash}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            RunMake(temp);
            try
            {
                Directory.Move(temp, final);
            }
            catch (IOException) when (File.Exists(image))
            {
                // Another test process built the same sources first; its image is identical.
            }
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }

        return File.Exists(image) ? image : throw new InvalidOperationException($"make left no {image}");
    }

    private static void RunMake(string outDir)
    {
        ProcessStartInfo psi = new("make")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["-C", SourceDirectory, $"OUT={outDir}"])
        {
            psi.ArgumentList.Add(a);
        }

        using Process make = Process.Start(psi)
            ?? throw new InvalidOperationException("make did not start; install make and gcc (tests/run.sh does)");
        Task<string> stdout = make.StandardOutput.ReadToEndAsync();
        Task<string> stderr = make.StandardError.ReadToEndAsync();
        if (!make.WaitForExit(BuildTimeout))
        {
            make.Kill(entireProcessTree: true);
            make.WaitForExit();
            throw new InvalidOperationException($"building the test guest took over {BuildTimeout.TotalMinutes} min");
        }

        if (make.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"building the test guest failed (make -C {SourceDirectory}, exit {make.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        }
    }

    private static string HashSources()
    {
        using IncrementalHash sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string file in Directory.GetFiles(SourceDirectory).Order(StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\0"));
            sha.AppendData(File.ReadAllBytes(file));
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }
}
