namespace Kindling.Images.Tools;

/// <summary>Allocated size of a (possibly sparse) file, from stat(2)'s st_blocks.</summary>
internal static class SparseFile
{
    private const long StatBlockSize = 512;

    public static long AllocatedBytes(string path)
    {
        // .NET exposes no st_blocks; stat(1) reports it (`%b`, in 512-byte units).
        System.Diagnostics.ProcessStartInfo psi = new("stat", ["-c", "%b", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using System.Diagnostics.Process p = System.Diagnostics.Process.Start(psi) ?? throw new IOException("stat did not start");
        string s = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return p.ExitCode == 0 && long.TryParse(s, out long blocks) ? blocks * StatBlockSize : throw new IOException($"stat {path} failed");
    }
}
