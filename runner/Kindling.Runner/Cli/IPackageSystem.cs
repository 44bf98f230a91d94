namespace Kindling.Runner.Cli;

/// <summary>The host's Debian package system, as <see cref="HostSetup"/> uses it (a fake in tests: nothing is installed for real).</summary>
public interface IPackageSystem
{
    /// <summary>Those of <paramref name="packages"/> that are installed.</summary>
    IReadOnlySet<string> Installed(IReadOnlyList<string> packages);

    /// <summary>Runs <c>apt-get ARGUMENTS</c> (its output goes to the console) and returns its exit code.</summary>
    /// <exception cref="FileNotFoundException">There is no apt-get (not a Debian-based host).</exception>
    Task<int> AptGetAsync(IReadOnlyList<string> arguments, CancellationToken ct);
}
