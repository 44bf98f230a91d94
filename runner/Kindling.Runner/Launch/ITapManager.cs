using System.Globalization;

namespace Kindling.Runner.Launch;

/// <summary>Creates and deletes per-job TAP devices.</summary>
public interface ITapManager
{
    /// <summary>Creates the TAP of <paramref name="net"/> with its host address (none when that is empty: a warm slot's TAP, addressed when a job takes it).</summary>
    Task CreateAsync(GuestNetwork net, CancellationToken ct);

    /// <summary>Gives an existing TAP (a warm slot's) the host address of <paramref name="net"/>, the job's.</summary>
    Task AddressAsync(GuestNetwork net, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Deletes a TAP; succeeds when it does not exist.</summary>
    Task DeleteAsync(string tapName, CancellationToken ct);

    /// <summary>
    /// The job TAPs on this machine, read once and told apart (for the reaper): those that look like ours, and those
    /// another runner on this machine made (another state directory), never this runner's to reap.
    /// </summary>
    TapListing List();
}

/// <summary>One look at the machine's job TAPs: <see cref="Ours"/> to reap when no live job has them; <see cref="Others"/> never.</summary>
public sealed record TapListing(IReadOnlyList<string> Ours, IReadOnlyList<string> Others)
{
    public static TapListing None { get; } = new([], []);
}

/// <summary>
/// TAPs with iproute2 (needs root or CAP_NET_ADMIN). With <paramref name="ownerUid"/> the TAP belongs to that user
/// (the jail's: a jailed VMM has no CAP_NET_ADMIN, and only the owner may attach to a persistent TAP).
/// With <paramref name="owner"/> (the runner's state directory) each TAP carries it as its interface alias
/// (<c>ip link show</c> prints it), so runners sharing a machine, as a fleet's daemons may, never reap each other's;
/// a job TAP with no alias that is up (made before aliases), or whose owner's state directory is gone (a runner
/// removed, a test's temporary runner), counts as anyone's.
/// </summary>
public sealed class IpTapManager(uint? ownerUid = null, string? owner = null) : ITapManager
{
    private const string AliasPrefix = "kindling:";
    private readonly string? _alias = string.IsNullOrEmpty(owner) ? null : AliasFor(owner);

    /// <summary>The alias of a runner's TAPs: its state directory, or a hash of it where that is too long for an alias.</summary>
    public static string AliasFor(string stateDirectory)
    {
        string path = Path.GetFullPath(stateDirectory);
        return AliasPrefix + (System.Text.Encoding.UTF8.GetByteCount(path) <= 200
            ? path
            : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(path)))[..32]);
    }

    public async Task CreateAsync(GuestNetwork net, CancellationToken ct)
    {
        await DeleteAsync(net.TapName, ct); // a leftover of a crashed attempt
        string[] add = ["tuntap", "add", "dev", net.TapName, "mode", "tap"];
        await Ip(ct, ownerUid is { } uid ? [.. add, "user", uid.ToString(CultureInfo.InvariantCulture)] : add);
        // the alias first, so another runner's reaper never sees this TAP without its owner for longer than one ip call
        await Ip(ct, _alias is null ? ["link", "set", net.TapName, "up"] : ["link", "set", net.TapName, "alias", _alias, "up"]);
        if (net.HostAddress.Length > 0)
        {
            await AddressAsync(net, ct);
        }
    }

    public Task AddressAsync(GuestNetwork net, CancellationToken ct) =>
        Ip(ct, "addr", "add", string.Create(CultureInfo.InvariantCulture, $"{net.HostAddress}/{GuestNetwork.PrefixLength}"), "dev", net.TapName);

    public async Task DeleteAsync(string tapName, CancellationToken ct)
    {
        if (Directory.Exists($"/sys/class/net/{tapName}"))
        {
            try
            {
                await Ip(ct, "link", "del", tapName);
            }
            catch (IOException) when (!Directory.Exists($"/sys/class/net/{tapName}"))
            {
                // deleted meanwhile by another teardown or reaper (another daemon on this machine): gone is what was asked
            }
        }
    }

    public TapListing List()
    {
        List<string> ours = [], others = [];
        foreach (string tap in JobTaps())
        {
            (IsOthers(tap) ? others : ours).Add(tap);
        }

        return new TapListing(ours, others);
    }

    private static IEnumerable<string> JobTaps() =>
        Directory.Exists("/sys/class/net")
            ? Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName).OfType<string>()
                .Where(n => GuestNetwork.IsJobOrSlotTap(n))
            : [];

    /// <summary>
    /// Carries another runner's alias whose state directory exists, or is being made by one: no alias yet and not up
    /// (<see cref="CreateAsync"/> sets the alias and brings the TAP up in one request). An up TAP with no alias
    /// predates aliases, and one whose owner's state directory is gone has no runner left to reap it: anyone's.
    /// </summary>
    private bool IsOthers(string tap)
    {
        if (_alias is null)
        {
            return false;
        }

        try
        {
            string alias = File.ReadAllText($"/sys/class/net/{tap}/ifalias").TrimEnd('\n');
            if (alias.Length > 0)
            {
                return alias.StartsWith(AliasPrefix, StringComparison.Ordinal) && alias != _alias && OwnerExists(alias);
            }

            string flags = File.ReadAllText($"/sys/class/net/{tap}/flags").Trim();
            return (Convert.ToInt32(flags, 16) & IffUp) == 0;
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return false; // gone meanwhile
        }
    }

    private const int IffUp = 0x1;

    /// <summary>
    /// Whether the state directory an alias names exists. A hashed alias (a state directory too long to name) cannot
    /// be checked: its owner is taken to exist.
    /// </summary>
    private static bool OwnerExists(string alias)
    {
        string owner = alias[AliasPrefix.Length..];
        return !owner.StartsWith('/') || Directory.Exists(owner);
    }

    private static async Task Ip(CancellationToken ct, params string[] args)
    {
        ProcessResult p;
        try
        {
            p = await ProcessRunner.RunAsync("ip", args, cancellationToken: ct);
        }
        catch (ProcessStartException e)
        {
            throw new IOException($"cannot run ip (install iproute2): {e.Reason}", e);
        }

        string err = p.StandardError;
        if (p.ExitCode != 0)
        {
            throw new IOException($"ip {string.Join(' ', args)} failed ({p.ExitCode}): {err.Trim()}{(err.Contains("Operation not permitted", StringComparison.Ordinal) ? "; TAP devices need root (or set Kindling:Launcher:Network to false)" : "")}");
        }
    }
}

/// <summary>No networking: VMs get no NIC (and no MMDS over the network).</summary>
public sealed class NoTapManager : ITapManager
{
    public Task CreateAsync(GuestNetwork net, CancellationToken ct) => Task.CompletedTask;
    public Task DeleteAsync(string tapName, CancellationToken ct) => Task.CompletedTask;
    public TapListing List() => TapListing.None;
}
