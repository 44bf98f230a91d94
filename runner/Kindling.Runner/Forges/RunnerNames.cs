using System.Security.Cryptography;

namespace Kindling.Runner.Forges;

/// <summary>Ephemeral runner names: <c>kindling-&lt;forge job id&gt;-&lt;6 hex&gt;</c>; the prefix marks ours for the reaper.</summary>
public static class RunnerNames
{
    public const string Prefix = "kindling-";

    public static string For(string forgeJobId) =>
        $"{Prefix}{forgeJobId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";

    public static bool IsOurs(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);
}
