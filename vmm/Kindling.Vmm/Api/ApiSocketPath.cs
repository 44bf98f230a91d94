using System.Net.Sockets;

namespace Kindling.Vmm.Api;

/// <summary>
/// The API socket's file: taken over only when nobody serves it. A live socket belongs to another VMM (or a
/// Firecracker) and is never deleted: deleting it would leave both unreachable.
/// </summary>
public static class ApiSocketPath
{
    /// <summary>
    /// Prepares <paramref name="path"/> for bind: nothing there, or a stale file nobody listens on (removed).
    /// Throws <see cref="IOException"/> when a process is listening on it.
    /// </summary>
    public static void Claim(string path)
    {
        if (Directory.Exists(path))
        {
            throw new IOException($"{path} is a directory; give the path of a socket file to create");
        }

        if (!File.Exists(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens (a socket left by a process that died, or not a socket at all): replace it.
                File.Delete(path);
                return;
            }
            catch (SocketException e)
            {
                throw new IOException($"{path} exists and cannot be checked for a listener ({e.Message}); remove it or choose another path", e);
            }
        }

        throw new IOException($"{path} is in use by another process; stop that process or choose another API socket path");
    }

    /// <summary>Removes the socket file at shutdown (the server has stopped listening on it).</summary>
    public static void Release(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing to clean up then: a stale socket file is replaced by the next Claim.
        }
    }
}
