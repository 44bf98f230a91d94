using System.Text;

namespace Kindling.Images.Rootfs;

/// <summary>
/// Everything a base image's content depends on. Its <see cref="Hash"/> names the cached image: the image is
/// rebuilt exactly when the recipe changes (flavour, packages, suite/mirror, agent/init/busybox bytes, builder
/// version).
/// </summary>
public sealed record BaseImageRecipe(Flavour Flavour, IReadOnlyList<string> Packages, string Suite, string Mirror, string AgentSha256, string InitSha256, string BusyboxSha256)
{
    /// <summary>Bump when the builder's output changes for the same inputs.</summary>
    public const int BuilderVersion = 1;

    public static readonly IReadOnlyList<string> DebianPackages = ["git", "curl", "ca-certificates", "build-essential"];

    public string Text
    {
        get
        {
            StringBuilder sb = new();
            sb.Append("builder=").Append(BuilderVersion).Append('\n');
            sb.Append("flavour=").Append(Flavour.ToName()).Append('\n');
            sb.Append("packages=").Append(string.Join(',', Packages)).Append('\n');
            sb.Append("suite=").Append(Suite).Append('\n');
            sb.Append("mirror=").Append(Mirror).Append('\n');
            sb.Append("agent=").Append(AgentSha256).Append('\n');
            sb.Append("init=").Append(InitSha256).Append('\n');
            sb.Append("busybox=").Append(BusyboxSha256).Append('\n');
            return sb.ToString();
        }
    }

    public string Hash => GuestFiles.Sha256(Encoding.UTF8.GetBytes(Text));
}
