namespace Kindling.Images.Tools;

/// <summary>Allocated size of a (possibly sparse) file, from stat(2)'s st_blocks.</summary>
internal static class SparseFile
{
    private const long StatBlockSize = 512;

    public static long AllocatedBytes(string path)
    {
        // .NET exposes no st_blocks; stat(1) reports it (`%b`, in 512-byte units).
        ProcessResult p = Kindling.Native.ProcessRunner.Run("stat", ["-c", "%b", path]);
        return p.ExitCode == 0 && long.TryParse(p.StandardOutput.Trim(), out long blocks) ? blocks * StatBlockSize : throw new IOException($"stat {path} failed");
    }
}
