using System.ComponentModel;
using System.Diagnostics;

namespace Kindling.Runner.Cli;

/// <summary>dpkg-query and apt-get, as tests/run.sh uses them.</summary>
public sealed class AptPackageSystem : IPackageSystem
{
    public IReadOnlySet<string> Installed(IReadOnlyList<string> packages)
    {
        HashSet<string> installed = new(StringComparer.Ordinal);
        if (packages.Count == 0)
        {
            return installed;
        }

        var psi = new ProcessStartInfo("dpkg-query", ["-W", "-f=${Package} ${Status}\\n", .. packages])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        try
        {
            using Process p = Process.Start(psi)!;
            Task<string> errors = p.StandardError.ReadToEndAsync(); // unknown packages are reported there; drained so it cannot block
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            _ = errors.Result;
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] parts = line.Split(' ', 2);
                if (parts.Length == 2 && parts[1].Trim() == "install ok installed")
                {
                    installed.Add(parts[0].Split(':')[0]); // busybox-static:amd64 → busybox-static
                }
            }
        }
        catch (Win32Exception)
        {
            // No dpkg: nothing counts as installed; the install (or its command) says what is needed.
        }

        return installed;
    }

    public async Task<int> AptGetAsync(IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("apt-get", arguments) { UseShellExecute = false };
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (Win32Exception e)
        {
            throw new FileNotFoundException($"apt-get could not be run ({e.Message})", "apt-get", e);
        }

        using (p)
        {
            await p.WaitForExitAsync(ct);
            return p.ExitCode;
        }
    }
}
