using System.Globalization;

namespace Kindling.Runner.Launch;

/// <summary>Creates and deletes per-job TAP devices.</summary>
public interface ITapManager
{
    Task CreateAsync(GuestNetwork net, CancellationToken ct);

    /// <summary>Deletes a TAP; succeeds when it does not exist.</summary>
    Task DeleteAsync(string tapName, CancellationToken ct);

    /// <summary>TAPs that look like ours (for the reaper).</summary>
    IReadOnlyList<string> ListOurs();
}

/// <summary>
/// TAPs with iproute2 (needs root or CAP_NET_ADMIN). With <paramref name="ownerUid"/> the TAP belongs to that user
/// (the jail's: a jailed VMM has no CAP_NET_ADMIN, and only the owner may attach to a persistent TAP).
/// </summary>
public sealed class IpTapManager(uint? ownerUid = null) : ITapManager
{
    public async Task CreateAsync(GuestNetwork net, CancellationToken ct)
    {
        await DeleteAsync(net.TapName, ct); // a leftover of a crashed attempt
        string[] add = ["tuntap", "add", "dev", net.TapName, "mode", "tap"];
        await Ip(ct, ownerUid is { } uid ? [.. add, "user", uid.ToString(CultureInfo.InvariantCulture)] : add);
        await Ip(ct, "addr", "add", string.Create(CultureInfo.InvariantCulture, $"{net.HostAddress}/{GuestNetwork.PrefixLength}"), "dev", net.TapName);
        await Ip(ct, "link", "set", net.TapName, "up");
    }

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

    public IReadOnlyList<string> ListOurs() =>
        Directory.Exists("/sys/class/net")
            ? [.. Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName).OfType<string>()
                .Where(n => n.StartsWith("kt", StringComparison.Ordinal) && n[2..].All(char.IsAsciiDigit) && n.Length > 2)]
            : [];

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
    public IReadOnlyList<string> ListOurs() => [];
}
