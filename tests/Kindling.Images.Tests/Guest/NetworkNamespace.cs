using System.Net;
using System.Net.Sockets;
using Kindling.Native;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Images.Tests.Guest;

/// <summary>
/// A named network namespace (ip netns) with lo up and the MMDS address on lo, standing in for the guest's view of
/// the network. Sockets for servers "inside the guest's network" are created from a thread that has joined it.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    public static async Task<NetworkNamespace> CreateAsync(string address)
    {
        NetworkNamespace ns = new($"kindling-img-{Guid.NewGuid():N}"[..24]);
        await Ip("netns", "add", ns.Name);
        await Ip("-n", ns.Name, "link", "set", "lo", "up");
        await Ip("-n", ns.Name, "addr", "add", address + "/32", "dev", "lo");
        return ns;
    }

    /// <summary>
    /// An empty namespace for the guest whose only interface besides lo is <c>eth0</c>, one end of a veth pair whose
    /// other end sits in <paramref name="peer"/> with <paramref name="peerAddress"/> (e.g. the MMDS address /16).
    /// </summary>
    public static async Task<NetworkNamespace> CreateWithEth0Async(NetworkNamespace peer, string peerAddress)
    {
        NetworkNamespace ns = new($"kindling-img-{Guid.NewGuid():N}"[..24]);
        await Ip("netns", "add", ns.Name);
        string hostSide = "kv" + Guid.NewGuid().ToString("N")[..10];
        await Ip("-n", ns.Name, "link", "add", "eth0", "type", "veth", "peer", "name", hostSide, "netns", peer.Name);
        await Ip("-n", peer.Name, "addr", "add", peerAddress, "dev", hostSide);
        await Ip("-n", peer.Name, "link", "set", hostSide, "up");
        return ns;
    }

    /// <summary>A listening TCP socket bound in this namespace (a socket stays in the namespace it was made in).</summary>
    public Socket Listen(IPEndPoint endpoint)
    {
        Socket? socket = null;
        Exception? error = null;
        Thread t = new(() =>
        {
            try
            {
                using SafeFileHandle ns = File.OpenHandle($"/run/netns/{Name}");
                Processes.EnterNamespace(ns, Processes.CLONE_NEWNET);

                socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(endpoint);
                socket.Listen(16);
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        t.Start();
        t.Join(); // The thread ends inside the namespace; the process's other threads never joined it.
        return error is null ? socket! : throw new IOException($"cannot listen on {endpoint} in netns {Name}", error);
    }

    public void Dispose() => Ip("netns", "del", Name).GetAwaiter().GetResult();

    private static async Task Ip(params string[] args)
    {
        var r = await Tools.RunAsync("ip", args, null, CancellationToken.None);
        if (r.Exit != 0)
        {
            throw new IOException($"ip {string.Join(' ', args)}: {r.Err}");
        }
    }
}
