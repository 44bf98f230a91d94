using System.Text.RegularExpressions;

namespace Kindling.Images.ActionsRunner;

/// <summary>
/// Where the official actions/runner release comes from (<c>Kindling:Images:ActionsRunner</c>): its version, the
/// SHA-256 of the linux-x64 tarball, and either a URL (default: GitHub's release download) or a local file.
/// </summary>
public sealed partial record ActionsRunnerSource(string Version, string Sha256, string? Url = null, string? File = null)
{
    /// <summary>The configuration section these settings come from; named in every error about them.</summary>
    public const string ConfigKey = "Kindling:Images:ActionsRunner";

    /// <summary>GitHub's release download for linux-x64; <c>{Version}</c> is replaced by the version.</summary>
    public const string DefaultUrlPattern = "https://github.com/actions/runner/releases/download/v{Version}/actions-runner-linux-x64-{Version}.tar.gz";

    /// <summary>The download address, <c>{Version}</c> replaced (null for a <see cref="File"/> source).</summary>
    public Uri? DownloadUri => File is { Length: > 0 } ? null
        : new Uri((Url is { Length: > 0 } u ? u : DefaultUrlPattern).Replace("{Version}", Version, StringComparison.OrdinalIgnoreCase));

    /// <summary>The hash in lower case, without a <c>sha256:</c> prefix.</summary>
    public string NormalizedSha256 => (Sha256.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? Sha256[7..] : Sha256).Trim().ToLowerInvariant();

    /// <summary>Every problem with these settings, one line each, naming the key and the fix; empty when usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        List<string> problems = [];
        if (string.IsNullOrWhiteSpace(Version))
        {
            problems.Add($"{ConfigKey}:Version: is empty; set the actions/runner release to use (e.g. 2.321.0, without the 'v')");
        }
        else if (!VersionPattern().IsMatch(Version))
        {
            problems.Add($"{ConfigKey}:Version: '{Version}' is not a release version such as 2.321.0 (digits and dots, without the 'v')");
        }

        if (string.IsNullOrWhiteSpace(Sha256))
        {
            problems.Add($"{ConfigKey}:Sha256: is empty; set the SHA-256 of actions-runner-linux-x64-<Version>.tar.gz (published in the release notes)");
        }
        else if (!HashPattern().IsMatch(NormalizedSha256))
        {
            problems.Add($"{ConfigKey}:Sha256: '{Sha256}' is not a SHA-256 (64 hexadecimal digits)");
        }

        if (Url is { Length: > 0 } && File is { Length: > 0 })
        {
            problems.Add($"{ConfigKey}: both Url and File are set; set only one (File for a local tarball, Url to download)");
        }
        else if (File is { Length: > 0 } f && !System.IO.File.Exists(f))
        {
            problems.Add($"{ConfigKey}:File: '{f}' does not exist; point it at a downloaded actions-runner-linux-x64-<Version>.tar.gz, or remove it to download");
        }
        else if (Url is { Length: > 0 } url
            && (!Uri.TryCreate(url.Replace("{Version}", "0", StringComparison.OrdinalIgnoreCase), UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)))
        {
            problems.Add($"{ConfigKey}:Url: '{url}' is not an http(s) address; write one such as {DefaultUrlPattern}, or remove it for GitHub's");
        }

        return problems;
    }

    [GeneratedRegex(@"^[0-9]+(\.[0-9]+){1,3}$")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^[0-9a-f]{64}$")]
    private static partial Regex HashPattern();
}
