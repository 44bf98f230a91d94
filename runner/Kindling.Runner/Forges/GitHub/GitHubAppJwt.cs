using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// The JWT a GitHub App signs to authenticate as itself (RS256): <c>iat</c> 60 s in the past against clock
/// drift, <c>exp</c> = iat + 600 s (GitHub refuses anything longer than ten minutes), <c>iss</c> = the App id.
/// </summary>
public static class GitHubAppJwt
{
    public static readonly TimeSpan Backdate = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(600);

    public static string Create(long appId, RSA key, DateTimeOffset now)
    {
        long iat = (now - Backdate).ToUnixTimeSeconds();
        long exp = iat + (long)Lifetime.TotalSeconds;
        string header = Encode("""{"alg":"RS256","typ":"JWT"}""");
        string payload = Encode(string.Create(CultureInfo.InvariantCulture, $$"""{"iat":{{iat}},"exp":{{exp}},"iss":"{{appId}}"}"""));
        string signingInput = header + "." + payload;
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    private static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
