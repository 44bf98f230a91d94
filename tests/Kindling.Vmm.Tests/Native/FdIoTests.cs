using Kindling.Native;
using Kindling.Vmm.Tests.Boot;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Vmm.Tests.Native;

public sealed class FdIoTests
{
    [Fact]
    public void Pwrite_ThenPread_RoundTripsAtAnOffset()
    {
        using var files = new TempFiles();
        string path = files.Write("disk", new byte[8192]);
        byte[] data = [.. Enumerable.Range(1, 3000).Select(i => (byte)i)];
        byte[] back = new byte[data.Length];

        using (SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            FdIo.Pwrite(file, data, 4000);
            Assert.Equal(data.Length, FdIo.Pread(file, back, 4000));
        }

        Assert.Equal(data, back);
        Assert.Equal(data, File.ReadAllBytes(path)[4000..7000]);
    }

    [Fact]
    public void Pread_PastEndOfFile_ReturnsTheBytesThatExist()
    {
        using var files = new TempFiles();
        string path = files.Write("short", [1, 2, 3, 4, 5]);
        byte[] buffer = new byte[16];
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);

        Assert.Equal(3, FdIo.Pread(file, buffer, 2));
        Assert.Equal([3, 4, 5], buffer[..3]);
        Assert.Equal(0, FdIo.Pread(file, buffer, 5));
    }

    [Fact]
    public void Pread_WriteOnlyDescriptor_ThrowsNamingTheCall()
    {
        using var files = new TempFiles();
        string path = files.Write("w", [1, 2, 3]);
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);

        SyscallException e = Assert.Throws<SyscallException>(() => FdIo.Pread(file, new byte[3], 0));

        Assert.Equal("pread", e.Call);
        Assert.NotEqual(0, e.Errno);
    }

    [Fact]
    public void Pwrite_ReadOnlyDescriptor_ThrowsNamingTheCall()
    {
        using var files = new TempFiles();
        string path = files.Write("r", [1, 2, 3]);
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);

        SyscallException e = Assert.Throws<SyscallException>(() => FdIo.Pwrite(file, [9], 0));

        Assert.Equal("pwrite", e.Call);
    }
}
