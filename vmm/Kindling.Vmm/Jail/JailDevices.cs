namespace Kindling.Vmm.Jail;

/// <summary>The device nodes created inside every jail (major/minor from the kernel's devices.txt).</summary>
public static class JailDevices
{
    public sealed record Node(string JailPath, uint Major, uint Minor, bool OwnedByJail, uint Mode);

    /// <summary>/dev/kvm: misc 232. Owned by the jail's uid, 0600.</summary>
    public static readonly Node Kvm = new("/dev/kvm", 10, 232, OwnedByJail: true, Mode: 0x180);

    /// <summary>/dev/net/tun: misc 200. Owned by the jail's uid, 0600.</summary>
    public static readonly Node Tun = new("/dev/net/tun", 10, 200, OwnedByJail: true, Mode: 0x180);

    /// <summary>/dev/null: mem 3, 0666.</summary>
    public static readonly Node Null = new("/dev/null", 1, 3, OwnedByJail: false, Mode: 0x1b6);

    /// <summary>/dev/urandom: mem 9, 0666 (the runtime seeds its random numbers from it).</summary>
    public static readonly Node Urandom = new("/dev/urandom", 1, 9, OwnedByJail: false, Mode: 0x1b6);

    public static readonly IReadOnlyList<Node> All = [Kvm, Tun, Null, Urandom];
}
