namespace Kindling.Images.Rootfs;

/// <summary>The base root filesystems Kindling can build.</summary>
public enum Flavour
{
    /// <summary>busybox + the agent + /etc basics; builds in seconds.</summary>
    Minimal,

    /// <summary>debootstrap --variant=minbase bookworm + git, curl, ca-certificates, build-essential (needs root).</summary>
    Debian,
}

public static class FlavourNames
{
    public static string ToName(this Flavour f) => f switch
    {
        Flavour.Minimal => "minimal",
        Flavour.Debian => "debian",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    /// <summary>Parses "minimal"/"debian" (case-insensitive); throws naming the accepted values.</summary>
    public static Flavour Parse(string name) => name.ToLowerInvariant() switch
    {
        "minimal" => Flavour.Minimal,
        "debian" => Flavour.Debian,
        _ => throw new ImageBuildException($"unknown flavour '{name}': use minimal or debian"),
    };
}
