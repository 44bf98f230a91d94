using System.Text;
using System.Text.RegularExpressions;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Tests.Logs;

public sealed partial class SecretMaskerTests
{
    private const string Secret = "hunter2-is-the-secret";

    [Fact]
    public void Apply_SecretTwiceInLine_BothMasked()
    {
        var m = new SecretMasker([Secret]);
        Assert.Equal("a=*** b=***", m.Apply($"a={Secret} b={Secret}"));
        Assert.Equal("nothing here", m.Apply("nothing here"));
    }

    [Fact]
    public void Apply_OverlappingSecrets_MaskedWholeNoPieceLeft()
    {
        var m = new SecretMasker(["abcdef", "defghi"]);
        Assert.Equal("x***y", m.Apply("xabcdefghiy"));
        Assert.Equal("***", m.Apply("abcdefdefghi"));
    }

    [Fact]
    public void Apply_MultiLineSecret_EachLineMasked()
    {
        var m = new SecretMasker(["-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\n-----END KEY-----"]);
        Assert.Equal("***", m.Apply("-----BEGIN KEY-----"));
        Assert.Equal("key: ***", m.Apply("key: MIIBOgIBAAJBAKj34"));
    }

    [Fact]
    public void Apply_ShortValue_NotMasked()
    {
        var m = new SecretMasker(["ab", ""]);
        Assert.Equal("abc ab", m.Apply("abc ab"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    [InlineData("{\"token\":\"")]
    public void Apply_Base64OfSecretAtAnyAlignment_NothingDecodesToIt(string before)
    {
        string line = "payload: " + Convert.ToBase64String(Encoding.UTF8.GetBytes(before + Secret + "\"} tail"));
        Assert.True(RevealsThroughBase64(line, Secret), "the check itself should see the secret in the unmasked line");

        string masked = new SecretMasker([Secret]).Apply(line);

        Assert.Contains(SecretMasker.Mask, masked);
        Assert.False(RevealsThroughBase64(masked, Secret), $"'{masked}' still decodes to part of the secret");
    }

    [Fact]
    public void Apply_UrlEncodedSecret_Masked()
    {
        const string secret = "p@ss word/&x";
        string masked = new SecretMasker([secret]).Apply($"GET https://example.com/login?pw={Uri.EscapeDataString(secret)}&u=1");
        Assert.Equal("GET https://example.com/login?pw=***&u=1", masked);
    }

    [Fact]
    public void Apply_JsonEscapedSecret_Masked()
    {
        const string secret = "ab\"cd\\ef";
        Assert.Equal("{\"password\":\"***\"}", new SecretMasker([secret]).Apply("{\"password\":\"ab\\\"cd\\\\ef\"}"));
    }

    [Fact]
    public void Apply_KeepCutInsideSecret_SecretMaskedWholeRestDropped()
    {
        var m = new SecretMasker(["SECRETVALUE"]);
        Assert.Equal("0123456789***", m.Apply("0123456789SECRETVALUE and more", 13));
        Assert.Equal("0123", m.Apply("0123456789SECRETVALUE", 4));
        Assert.Equal("01234", new SecretMasker([]).Apply("0123456789", 5));
    }

    /// <summary>Whether any run of base64 characters, at any of its four alignments, decodes to 4+ consecutive characters of the secret.</summary>
    private static bool RevealsThroughBase64(string text, string secret)
    {
        foreach (Match run in Base64Run().Matches(text))
        {
            for (int a = 0; a < 4 && a < run.Value.Length; a++)
            {
                string part = run.Value[a..];
                part = part[..(part.Length / 4 * 4)];
                string decoded = Encoding.Latin1.GetString(Convert.FromBase64String(part));
                for (int i = 0; i + 4 <= secret.Length; i++)
                {
                    if (decoded.Contains(secret.Substring(i, 4), StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    [GeneratedRegex("[A-Za-z0-9+/]{4,}")]
    private static partial Regex Base64Run();
}
