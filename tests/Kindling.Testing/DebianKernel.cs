using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Kindling.Vmm.Boot;

namespace Kindling.Testing;

/// <summary>
/// The current Debian cloud kernel (linux-image-cloud-amd64 → linux-image-6.x-cloud-amd64), fetched once with apt
/// into <see cref="RepoPaths.Cache"/>/debian-kernel and shared by every test process (a flock'd lock file keeps
/// parallel test runs from racing). Gives the bzImage and the ELF vmlinux unpacked from its LZ4 payload.
/// </summary>
public static partial class DebianKernel
{
    /// <summary>The metapackage that always depends on the current cloud kernel.</summary>
    public const string MetaPackage = "linux-image-cloud-amd64";

    private const int LockExclusive = 2; // LOCK_EX
    private static readonly Lazy<Files> Fetched = new(Fetch, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>/boot/vmlinuz-* from the package: a bzImage.</summary>
    public static string BzImagePath => Fetched.Value.BzImage;

    /// <summary>The ELF vmlinux from the bzImage's payload.</summary>
    public static string VmlinuxPath => Fetched.Value.Vmlinux;

    /// <summary>The versioned package name, e.g. linux-image-6.1.0-56-cloud-amd64.</summary>
    public static string PackageName => Fetched.Value.Package;

    private sealed record Files(string Package, string BzImage, string Vmlinux);

    private static Files Fetch()
    {
        string root = Path.Combine(RepoPaths.Cache, "debian-kernel");
        Directory.CreateDirectory(root);
        using FileStream lockFile = new(Path.Combine(root, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        if (Flock(lockFile.SafeFileHandle, LockExclusive) != 0)
        {
            throw new IOException($"flock {root}/.lock failed: errno {Marshal.GetLastPInvokeError()}");
        }

        string package = ResolvePackage(root);
        string dir = Path.Combine(root, package);
        string bzImage = Path.Combine(dir, "vmlinuz");
        string vmlinux = Path.Combine(dir, "vmlinux");
        if (File.Exists(bzImage) && File.Exists(vmlinux))
        {
            return new Files(package, bzImage, vmlinux);
        }

        string work = Path.Combine(root, $"{package}.tmp");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        Run("apt-get", ["download", package], work);
        string deb = Directory.GetFiles(work, "*.deb").Single();
        string extracted = Path.Combine(work, "root");
        Run("dpkg-deb", ["-x", deb, extracted], work);
        string vmlinuz = Directory.GetFiles(Path.Combine(extracted, "boot"), "vmlinuz-*").Single();
        File.Move(vmlinuz, Path.Combine(work, "vmlinuz"));
        Directory.Delete(extracted, recursive: true);
        File.Delete(deb);
        ExtractVmlinux(Path.Combine(work, "vmlinuz"), Path.Combine(work, "vmlinux"));
        Directory.Move(work, dir);
        return new Files(package, bzImage, vmlinux);
    }

    /// <summary>
    /// The versioned kernel package the metapackage depends on; runs apt-get update once if apt does not know it.
    /// Where apt cannot answer (no lists, not root, offline), a kernel already in the cache is used.
    /// </summary>
    private static string ResolvePackage(string root)
    {
        if (Environment.GetEnvironmentVariable("KINDLING_DEBIAN_KERNEL_PACKAGE") is { Length: > 0 } pinned)
        {
            return pinned;
        }

        string? found = TryResolve();
        if (found is null)
        {
            (int code, string output) = TryRun("apt-get", ["update", "-qq"], RepoPaths.Cache);
            found = TryResolve();
            if (found is null)
            {
                string? cached = Directory.GetDirectories(root, "linux-image-*-cloud-amd64")
                    .Where(d => File.Exists(Path.Combine(d, "vmlinux")))
                    .Order(StringComparer.Ordinal)
                    .LastOrDefault();
                return cached is not null
                    ? Path.GetFileName(cached)
                    : throw new InvalidOperationException(
                        $"apt-cache knows no {MetaPackage} (apt-get update exited {code}: {output.Trim()}); run the " +
                        "tests as root with Debian's main archive in the apt sources, or set KINDLING_DEBIAN_KERNEL_PACKAGE");
            }
        }

        return found;
    }

    private static string? TryResolve()
    {
        (int code, string output) = TryRun("apt-cache", ["depends", MetaPackage], RepoPaths.Cache);
        if (code != 0)
        {
            return null;
        }

        Match m = DependsLine().Match(output);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>
    /// Writes the ELF vmlinux inside <paramref name="bzImage"/>: the payload (payload_offset/payload_length from the
    /// setup header, relative to the protected-mode part) is an LZ4 legacy frame followed by the 4-byte
    /// decompressed size, which `lz4 -dc` does not expect and is checked here instead.
    /// </summary>
    public static void ExtractVmlinux(string bzImage, string vmlinux)
    {
        byte[] image = File.ReadAllBytes(bzImage);
        SetupHeader header = MemoryMarshal.Read<SetupHeader>(image.AsSpan(SetupHeader.Offset));
        if (header.Header != SetupHeader.HeaderMagic)
        {
            throw new InvalidOperationException($"{bzImage} has no \"HdrS\" setup header: not a bzImage");
        }

        int payloadOffset = checked((int)header.PayloadOffset);
        int payloadLength = checked((int)header.PayloadLength);
        ReadOnlySpan<byte> payload = image.AsSpan(header.SetupSize + payloadOffset, payloadLength);
        uint expectedSize = BinaryPrimitives.ReadUInt32LittleEndian(payload[^4..]);
        ReadOnlySpan<byte> lz4LegacyMagic = [0x02, 0x21, 0x4c, 0x18];
        if (!payload.StartsWith(lz4LegacyMagic))
        {
            throw new InvalidOperationException($"{bzImage}: the payload is not LZ4 legacy (starts {Convert.ToHexString(payload[..4])})");
        }

        string compressed = vmlinux + ".lz4";
        File.WriteAllBytes(compressed, payload[..^4].ToArray());
        string partial = vmlinux + ".partial";
        Run("sh", ["-c", "lz4 -dc \"$0\" > \"$1\"", compressed, partial], Path.GetDirectoryName(vmlinux)!);
        File.Delete(compressed);
        long size = new FileInfo(partial).Length;
        if (size != expectedSize)
        {
            throw new InvalidOperationException($"{bzImage}: the payload decompressed to {size} bytes, the image says {expectedSize}");
        }

        File.Move(partial, vmlinux, overwrite: true);
    }

    private static void Run(string file, string[] args, string directory)
    {
        (int code, string output) = TryRun(file, args, directory);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}: {output}");
        }
    }

    private static (int Code, string Output) TryRun(string file, string[] args, string directory)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using Process p = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }

    [GeneratedRegex(@"Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)")]
    private static partial Regex DependsLine();

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(Microsoft.Win32.SafeHandles.SafeFileHandle fd, int operation);
}
