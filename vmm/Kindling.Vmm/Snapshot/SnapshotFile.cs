using System.Security.Cryptography;
using System.Text;

namespace Kindling.Vmm.Snapshot;

/// <summary>What the envelope of a state file says about where the snapshot can be restored.</summary>
/// <param name="CpuVendor">The CPUID vendor string of the host that took it ("GenuineIntel", "AuthenticAMD").</param>
/// <param name="CpuTemplate">The machine's CPU template (the CPUID the guest saw).</param>
public sealed record SnapshotOrigin(string CpuVendor, string CpuTemplate);

/// <summary>
/// The state file's envelope: magic, format version, origin (CPU vendor, CPU template), body length, the body, and
/// a SHA-256 over everything before it. Reading checks, in this order, that the file is a Kindling state file, of
/// this format version, complete, intact, and from a host and template this VMM can restore on; each failure is
/// one <see cref="SnapshotException"/> that says which and what to do.
/// </summary>
public static class SnapshotFile
{
    /// <summary>"KNDLSNAP".</summary>
    public static ReadOnlySpan<byte> Magic => "KNDLSNAP"u8;

    /// <summary>Bumped whenever a section's layout changes: a file of another version is refused, never guessed at.</summary>
    public const uint FormatVersion = 1;

    /// <summary>State files hold registers and device state, not RAM: anything larger is not one of ours.</summary>
    public const long MaxFileBytes = 64L << 20;

    private const int HashBytes = 32;
    private const int MaxOriginText = 64;

    public static byte[] Encode(SnapshotOrigin origin, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(origin);
        var w = new StateWriter();
        w.Raw(Magic);
        w.U32(FormatVersion);
        w.String(origin.CpuVendor);
        w.String(origin.CpuTemplate);
        w.U64((ulong)body.Length);
        w.Raw(body);
        byte[] unsigned = w.ToArray();
        byte[] file = new byte[unsigned.Length + HashBytes];
        unsigned.CopyTo(file, 0);
        SHA256.HashData(unsigned, file.AsSpan(unsigned.Length));
        return file;
    }

    /// <summary>
    /// Checks the envelope of <paramref name="file"/> (read from <paramref name="path"/>, named in messages) and
    /// returns the origin and the body. Does not compare the origin with this host: see <see cref="CheckOrigin"/>.
    /// </summary>
    public static (SnapshotOrigin Origin, ReadOnlyMemory<byte> Body) Decode(ReadOnlyMemory<byte> file, string path)
    {
        if (file.Length < Magic.Length + sizeof(uint) || !file.Span[..Magic.Length].SequenceEqual(Magic))
        {
            throw new SnapshotException($"{path} is not a Kindling snapshot state file (no KNDLSNAP header); give the snapshot_path that snapshot/create wrote");
        }

        return DecodeAfterMagic(file, path);
    }

    private static (SnapshotOrigin, ReadOnlyMemory<byte>) DecodeAfterMagic(ReadOnlyMemory<byte> file, string path)
    {
        var r = new StateReader(file[Magic.Length..], $"snapshot state file {path}");
        uint version = r.U32();
        if (version != FormatVersion)
        {
            throw new SnapshotException(
                $"{path} is snapshot format version {version}; this kindling-vmm ({VersionText}) reads version {FormatVersion} only. Restore it with the kindling-vmm that took it, or take the snapshot again");
        }

        string vendor, template;
        ulong bodyLength;
        try
        {
            vendor = r.String(MaxOriginText);
            template = r.String(MaxOriginText);
            bodyLength = r.U64();
        }
        catch (SnapshotException e)
        {
            throw Truncated(path, e.Message);
        }

        int headerLength = Magic.Length + r.Position;
        long expected = headerLength + (long)Math.Min(bodyLength, long.MaxValue / 2) + HashBytes;
        if (expected > file.Length)
        {
            throw Truncated(path, $"the header announces {expected} bytes, the file has {file.Length}");
        }

        if (expected < file.Length)
        {
            throw new SnapshotException($"{path} has {file.Length - expected} bytes after its end; the file is corrupted (take the snapshot again)");
        }

        ReadOnlySpan<byte> unsigned = file.Span[..(int)(expected - HashBytes)];
        Span<byte> hash = stackalloc byte[HashBytes];
        SHA256.HashData(unsigned, hash);
        if (!hash.SequenceEqual(file.Span[(int)(expected - HashBytes)..]))
        {
            throw new SnapshotException($"{path} is corrupted: its SHA-256 checksum does not match its contents (take the snapshot again)");
        }

        return (new SnapshotOrigin(vendor, template), file.Slice(headerLength, (int)bodyLength));
    }

    /// <summary>Refuses a snapshot taken on another CPU vendor or with another CPU template than <paramref name="here"/>.</summary>
    public static void CheckOrigin(SnapshotOrigin snapshot, SnapshotOrigin here, string path)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(here);
        if (!string.Equals(snapshot.CpuVendor, here.CpuVendor, StringComparison.Ordinal))
        {
            throw new SnapshotException(
                $"{path} was taken on a {snapshot.CpuVendor} CPU; this host is {here.CpuVendor}. A guest's CPU state cannot move between vendors: take the snapshot on a {here.CpuVendor} host");
        }

        if (!string.Equals(snapshot.CpuTemplate, here.CpuTemplate, StringComparison.Ordinal))
        {
            throw new SnapshotException(
                $"{path} was taken with CPU template {snapshot.CpuTemplate}; this VMM runs {here.CpuTemplate}. Restore it where the template is {snapshot.CpuTemplate}, or take a snapshot with {here.CpuTemplate}");
        }
    }

    /// <summary>Reads and decodes <paramref name="path"/>, refusing files too large to be a state file.</summary>
    public static (SnapshotOrigin Origin, ReadOnlyMemory<byte> Body) Read(string path)
    {
        byte[] file;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new SnapshotException($"snapshot_path {path} does not exist");
            }

            if (info.Length > MaxFileBytes)
            {
                throw new SnapshotException($"snapshot_path {path} is {info.Length} bytes, more than a state file's {MaxFileBytes}; is it the memory file?");
            }

            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SnapshotException($"snapshot_path {path} cannot be read: {e.Message}", e);
        }

        return Decode(file, path);
    }

    /// <summary>Writes the file next to <paramref name="path"/> and renames it into place: a reader never sees half a snapshot.</summary>
    public static void Write(string path, byte[] file) =>
        AtomicFile.Write(path, "snapshot_path", stream =>
        {
            stream.Write(file);
            return true;
        });

    private static string VersionText => typeof(SnapshotFile).Assembly.GetName().Version?.ToString(3) ?? "unknown version";

    private static SnapshotException Truncated(string path, string detail) =>
        new($"{path} is truncated ({detail}); the snapshot was not written completely: take it again");
}
