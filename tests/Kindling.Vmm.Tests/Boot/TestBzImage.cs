using System.Runtime.InteropServices;
using Kindling.Vmm.Boot;

namespace Kindling.Vmm.Tests.Boot;

/// <summary>Builds a minimal bzImage: 4 setup sectors plus the boot sector carrying a setup header, then a protected-mode part.</summary>
internal static class TestBzImage
{
    public const int SetupSects = 4;
    public const int SetupSize = (SetupSects + 1) * 512;

    public static SetupHeader DefaultHeader(int kernelSize) => new()
    {
        SetupSects = SetupSects,
        Syssize = (uint)((kernelSize + 15) / 16),
        BootFlag = SetupHeader.BootFlagMagic,
        Header = SetupHeader.HeaderMagic,
        Version = 0x020f,
        LoadFlags = SetupHeader.LoadedHigh,
        Code32Start = 0x100000,
        InitrdAddrMax = 0x7fff_ffff,
        KernelAlignment = 0x20_0000,
        RelocatableKernel = 1,
        XLoadFlags = SetupHeader.XlfKernel64 | SetupHeader.XlfCanBeLoadedAbove4G,
        CmdlineSize = 2047,
        PayloadOffset = 0x40,
        PayloadLength = 0x80,
        PrefAddress = 0x100_0000,
        InitSize = (uint)kernelSize,
    };

    public static byte[] Build(byte[] kernel, Func<SetupHeader, SetupHeader>? edit = null)
    {
        SetupHeader header = DefaultHeader(kernel.Length);
        header = edit?.Invoke(header) ?? header;
        byte[] image = new byte[SetupSize + kernel.Length];
        MemoryMarshal.Write(image.AsSpan(SetupHeader.Offset), in header);
        kernel.CopyTo(image, SetupSize);
        return image;
    }

    public static byte[] Pattern(int size)
    {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++)
        {
            b[i] = (byte)((i * 7) + 1);
        }

        return b;
    }
}
