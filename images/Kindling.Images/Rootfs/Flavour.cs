namespace Kindling.Images.Rootfs;

/// <summary>The base root filesystems Kindling can build.</summary>
public enum Flavour
{
    /// <summary>busybox + the agent + /etc basics; builds in seconds.</summary>
    Minimal,

    /// <summary>debootstrap --variant=minbase bookworm + git, curl, ca-certificates, build-essential (needs root).</summary>
    Debian,

    /// <summary>
    /// The <c>debian</c> base plus what the official actions/runner needs, a <c>runner</c> user (uid 1001,
    /// passwordless sudo) and the pinned runner release at /opt/actions-runner (needs root and the release's
    /// version and SHA-256: <see cref="ActionsRunner.ActionsRunnerSource"/>).
    /// </summary>
    Github,
}

public static class FlavourNames
{
    public static string ToName(this Flavour f) => f switch
    {
        Flavour.Minimal => "minimal",
        Flavour.Debian => "debian",
        Flavour.Github => "github",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    /// <summary>Parses "minimal"/"debian"/"github" (case-insensitive); throws naming the accepted values.</summary>
    public static Flavour Parse(string name) => name.ToLowerInvariant() switch
    {
        "minimal" => Flavour.Minimal,
        "debian" => Flavour.Debian,
        "github" => Flavour.Github,
        _ => throw new ImageBuildException($"unknown flavour '{name}': use minimal, debian or github"),
    };

    /// <summary>Whether the flavour is built with debootstrap (needs root and a Debian mirror).</summary>
    public static bool IsDebootstrapped(this Flavour f) => f is Flavour.Debian or Flavour.Github;
}
