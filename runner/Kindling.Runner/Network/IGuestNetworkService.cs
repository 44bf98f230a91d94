namespace Kindling.Runner.Network;

/// <summary>A VM's link as the runner made it: its TAP, the host side (its gateway) and the guest's address and MAC.</summary>
public sealed record GuestLink(string TapName, string HostAddress, string GuestAddress, string GuestMac);

/// <summary>A VM's place in the guest network as the admin page shows it.</summary>
public sealed record GuestVmStatus(string TapName, string GuestAddress, string Policy, long BytesOut, long BytesIn);

/// <summary>
/// Egress, DNS and isolation for guests (see <see cref="GuestNetworkService"/>). Per VM: <see cref="AddVmAsync"/> once
/// its TAP exists, <see cref="RemoveVmAsync"/> at teardown and from the reaper.
/// </summary>
public interface IGuestNetworkService
{
    /// <summary>Creates (or re-creates) the table and starts the DNS forwarder; safe to call again.</summary>
    Task StartAsync(CancellationToken ct);

    /// <summary>Lets the VM on <paramref name="net"/> out under <paramref name="tenant"/>'s egress policy.</summary>
    Task AddVmAsync(GuestLink net, string tenant, CancellationToken ct);

    /// <summary>Removes every element of the TAP's VM; succeeds when there is none.</summary>
    Task RemoveVmAsync(string tapName, CancellationToken ct);

    /// <summary>The TAPs that have elements in the table now (for the reaper).</summary>
    Task<IReadOnlyList<string>> ListTapsAsync(CancellationToken ct);

    /// <summary>Every VM in the table with its address, policy and bytes in/out.</summary>
    Task<IReadOnlyList<GuestVmStatus>> StatusAsync(CancellationToken ct);
}

/// <summary>No guest network (<c>Launcher:Network</c> off, or simulated VMs): VMs have no NIC, nothing to set up.</summary>
public sealed class DisabledGuestNetworkService : IGuestNetworkService
{
    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;
    public Task AddVmAsync(GuestLink net, string tenant, CancellationToken ct) => Task.CompletedTask;
    public Task RemoveVmAsync(string tapName, CancellationToken ct) => Task.CompletedTask;
    public Task<IReadOnlyList<string>> ListTapsAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<string>>([]);
    public Task<IReadOnlyList<GuestVmStatus>> StatusAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<GuestVmStatus>>([]);
}
