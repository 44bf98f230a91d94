using System.Text;

namespace Kindling.Images.Rootfs;

/// <summary>
/// Everything a base image's content depends on. Its <see cref="Hash"/> names the cached image: the image is
/// rebuilt exactly when the recipe changes (flavour, packages, suite/mirror, agent/init/busybox bytes, builder
/// version, and for <see cref="Flavour.Github"/> the actions/runner release's version and SHA-256).
/// </summary>
public sealed record BaseImageRecipe(Flavour Flavour, IReadOnlyList<string> Packages, string Suite, string Mirror, string AgentSha256, string InitSha256, string BusyboxSha256)
{
    /// <summary>Bump when the builder's output changes for the same inputs.</summary>
    public const int BuilderVersion = 1;

    /// <summary>
    /// The <c>debian</c> flavour: a build box with what workflows most often call beside the shell, as GitHub's
    /// runners have them: git, curl, a C toolchain, node (JavaScript actions run as <c>node main.js</c>) and python3
    /// (<c>shell: python</c>).
    /// </summary>
    public static readonly IReadOnlyList<string> DebianPackages = ["git", "curl", "ca-certificates", "build-essential", "nodejs", "python3"];

    /// <summary>
    /// The <c>github</c> flavour: the Debian (bookworm) list of actions/runner's <c>bin/installdependencies.sh</c>
    /// (ICU, OpenSSL 3, Kerberos, zlib, LTTng), the tools workflows expect on a runner, and sudo for the
    /// <c>runner</c> user.
    /// </summary>
    public static readonly IReadOnlyList<string> GithubPackages =
    [
        "libicu72", "libssl3", "libkrb5-3", "zlib1g", "liblttng-ust1",
        "ca-certificates", "git", "curl", "jq", "sudo", "tar", "unzip", "xz-utils", "util-linux",
    ];

    /// <summary>The actions/runner release unpacked into the image (<see cref="Flavour.Github"/> only).</summary>
    public string? ActionsRunnerVersion { get; init; }

    /// <summary>The SHA-256 of that release's linux-x64 tarball, as checked before it was used.</summary>
    public string? ActionsRunnerSha256 { get; init; }

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
            if (ActionsRunnerVersion is not null)
            {
                sb.Append("actions-runner=").Append(ActionsRunnerVersion).Append(' ').Append(ActionsRunnerSha256).Append('\n');
            }
            return sb.ToString();
        }
    }

    public string Hash => GuestFiles.Sha256(Encoding.UTF8.GetBytes(Text));
}
