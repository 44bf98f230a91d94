using System.Globalization;

namespace Kindling.Runner.Launch;

/// <summary>
/// A job's point-to-point network: TAP <c>kt&lt;id&gt;</c>, a /30 out of 172.16.0.0/16 picked by job id (host
/// .1, guest .2), a MAC derived from the job id, MMDS on that interface. The host side is the guest's gateway and its
/// DNS server (Network/GuestNetworkService's forwarder); Network/NftRuleset keeps the VM to its address and MAC.
/// </summary>
public sealed record GuestNetwork(string TapName, string HostAddress, string GuestAddress, string GuestMac)
{
    public const int PrefixLength = 30;

    /// <summary>What the guest network service needs of it (Network does not depend on Launch).</summary>
    public Network.GuestLink Link => new(TapName, HostAddress, GuestAddress, GuestMac);

    public static GuestNetwork For(long jobId)
    {
        int slot = (int)(jobId % 16384);
        int third = slot / 64, fourth = slot % 64 * 4;
        string Ip(int last) => string.Create(CultureInfo.InvariantCulture, $"172.16.{third}.{fourth + last}");
        string mac = string.Create(CultureInfo.InvariantCulture, $"06:00:ac:10:{third:x2}:{fourth + 2:x2}");
        return new GuestNetwork(TapNameFor(jobId), Ip(1), Ip(2), mac);
    }

    /// <summary>
    /// The MAC of every guest restored from a golden snapshot: a snapshot holds its network device's MAC, so every
    /// clone has the golden guest's (each on a TAP of its own, so they never meet on a link).
    /// </summary>
    public const string SnapshotMac = "06:00:ac:10:ff:fe";

    /// <summary>The TAP of warm slot <paramref name="slot"/>: <c>ktw</c> + its number; it has no address until a job takes it.</summary>
    public static GuestNetwork ForSlot(long slot) =>
        new("ktw" + (slot % 1_000_000_000_000).ToString(CultureInfo.InvariantCulture), "", "", SnapshotMac);

    /// <summary>A job's TAP (<c>kt</c> + digits) or a warm slot's (<c>ktw</c> + digits).</summary>
    public static bool IsJobOrSlotTap(string name) =>
        name.StartsWith("kt", StringComparison.Ordinal) && name.Length > 2
        && (name[2..].All(char.IsAsciiDigit) || (name[2] == 'w' && name.Length > 3 && name[3..].All(char.IsAsciiDigit)));

    /// <summary>Linux interface names are at most 15 bytes: "kt" + up to 13 digits.</summary>
    public static string TapNameFor(long jobId) => "kt" + (jobId % 10_000_000_000_000).ToString(CultureInfo.InvariantCulture);
}
