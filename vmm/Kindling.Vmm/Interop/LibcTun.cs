using System.Runtime.InteropServices;

namespace Kindling.Vmm.Interop;

/// <summary>
/// The TUN/TAP ioctls of &lt;linux/if_tun.h&gt; on a descriptor of /dev/net/tun: attach to a TAP interface with a
/// virtio-net header, set the header size and the offloads. Each failed call throws <see cref="SyscallException"/>.
/// </summary>
// SAFETY: each ioctl passes the address of a local (ifreq or int) that outlives the call, of the size its request code says.
internal static unsafe class LibcTun
{
    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;
    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;
    public const uint TUN_F_TSO_ECN = 0x08;
    public const uint TUN_F_UFO = 0x10;

    /// <summary>The ioctl type byte of TUN ('T').</summary>
    private const uint TunType = 'T';

    // TUNSETIFF _IOW('T', 202, int), TUNSETOFFLOAD _IOW('T', 208, unsigned int), TUNSETVNETHDRSZ _IOW('T', 216, int).
    private static readonly nuint TunSetIff = IoctlNumber.IoW<int>(TunType, 202);
    private static readonly nuint TunSetOffload = IoctlNumber.IoW<uint>(TunType, 208);
    private static readonly nuint TunSetVnetHdrSz = IoctlNumber.IoW<int>(TunType, 216);

    /// <summary>struct ifreq as TUNSETIFF uses it: the name and the flags, padded to 40 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    public struct IfReq
    {
        public fixed byte Name[16];
        public short Flags;
    }

    /// <summary>Opens /dev/net/tun (non-blocking) and attaches it to TAP <paramref name="name"/> with a virtio-net header.</summary>
    public static FileDescriptor OpenTap(string name)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(name);
        FileDescriptor handle = FileDescriptor.Open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK);
        try
        {
            if (utf8.Length >= 16)
            {
                throw new ArgumentException($"TAP name '{name}' is longer than 15 bytes (IFNAMSIZ)", nameof(name));
            }

            var req = new IfReq { Flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
            for (int i = 0; i < utf8.Length; i++)
            {
                req.Name[i] = utf8[i];
            }

            // SAFETY: req is a local ifreq (40 bytes, as the kernel's) that outlives the call; TUNSETIFF reads it
            // and writes the chosen name back into it.
            if (Libc.Ioctl(handle, TunSetIff, &req) < 0)
            {
                throw SyscallException.Last($"TUNSETIFF '{name}'");
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public static void TapSetVnetHdrSize(SafeHandle tap, int size)
    {
        // SAFETY: size is a local int that outlives the call; TUNSETVNETHDRSZ reads one int from it.
        if (Libc.Ioctl(tap, TunSetVnetHdrSz, &size) < 0)
        {
            throw SyscallException.Last("TUNSETVNETHDRSZ");
        }
    }

    public static void TapSetOffload(SafeHandle tap, uint flags)
    {
        if (Libc.Ioctl(tap, TunSetOffload, flags) < 0)
        {
            throw SyscallException.Last("TUNSETOFFLOAD");
        }
    }
}
