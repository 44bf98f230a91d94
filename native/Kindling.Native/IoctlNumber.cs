using System.Runtime.CompilerServices;

namespace Kindling.Native;

/// <summary>
/// ioctl request numbers, computed like the kernel's _IO/_IOR/_IOW/_IOWR macros (&lt;asm-generic/ioctl.h&gt;) from
/// the type byte, the number and the argument structure's size. The one encoder: KVM's and TUN's codes use it.
/// </summary>
public static class IoctlNumber
{
    private const int NrShift = 0;
    private const int TypeShift = 8;
    private const int SizeShift = 16;
    private const int DirShift = 30;
    private const uint None = 0;
    private const uint Write = 1;
    private const uint Read = 2;

    /// <summary>_IOC(direction, type, nr, size).</summary>
    public static nuint Ioc(uint direction, uint type, uint nr, uint size) =>
        (nuint)((direction << DirShift) | (size << SizeShift) | (type << TypeShift) | (nr << NrShift));

    /// <summary>_IO(type, nr): no argument structure.</summary>
    public static nuint Io(uint type, uint nr) => Ioc(None, type, nr, 0);

    /// <summary>_IOR(type, nr, T): the kernel writes a T.</summary>
    public static nuint IoR<T>(uint type, uint nr) where T : unmanaged => Ioc(Read, type, nr, (uint)Unsafe.SizeOf<T>());

    /// <summary>_IOW(type, nr, T): the kernel reads a T.</summary>
    public static nuint IoW<T>(uint type, uint nr) where T : unmanaged => Ioc(Write, type, nr, (uint)Unsafe.SizeOf<T>());

    /// <summary>_IOWR(type, nr, T): both.</summary>
    public static nuint IoWR<T>(uint type, uint nr) where T : unmanaged => Ioc(Read | Write, type, nr, (uint)Unsafe.SizeOf<T>());
}
