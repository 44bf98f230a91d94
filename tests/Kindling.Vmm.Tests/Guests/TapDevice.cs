using System.Diagnostics;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// A persistent host TAP device made with iproute2 for one test (name "kgt" + 8 hex digits), up, with IPv6 off so
/// the host kernel does not chatter on it; deleted on dispose. Needs root.
/// </summary>
internal sealed class TapDevice : IDisposable
{
    private static readonly TimeSpan IpTimeout = TimeSpan.FromSeconds(10);

    private TapDevice(string name) => Name = name;

    public string Name { get; }

    /// <param name="owner">The uid that may attach to it without CAP_NET_ADMIN (a jailed VMM's), or null.</param>
    public static TapDevice Create(uint? owner = null)
    {
        TapDevice tap = new($"kgt{Guid.NewGuid().ToString("N")[..8]}");
        if (owner is { } uid)
        {
            Ip("tuntap", "add", "dev", tap.Name, "mode", "tap", "user", uid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            Ip("tuntap", "add", "dev", tap.Name, "mode", "tap");
        }

        try
        {
            string ipv6 = $"/proc/sys/net/ipv6/conf/{tap.Name}/disable_ipv6";
            if (File.Exists(ipv6))
            {
                File.WriteAllText(ipv6, "1");
            }

            Ip("link", "set", tap.Name, "up");
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    public void Dispose() => Ip("link", "del", Name);

    private static void Ip(params string[] args)
    {
        ProcessStartInfo psi = new("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process ip = Process.Start(psi) ?? throw new InvalidOperationException("ip (iproute2) did not start");
        Task<string> stderr = ip.StandardError.ReadToEndAsync();
        _ = ip.StandardOutput.ReadToEndAsync();
        if (!ip.WaitForExit(IpTimeout))
        {
            ip.Kill();
            throw new InvalidOperationException($"ip {string.Join(' ', args)} hung");
        }

        if (ip.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed (exit {ip.ExitCode}): {stderr.Result}");
        }
    }
}
