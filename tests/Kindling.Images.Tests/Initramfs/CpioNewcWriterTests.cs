using Kindling.Images.Initramfs;

namespace Kindling.Images.Tests.Initramfs;

public sealed class CpioNewcWriterTests
{
    private static byte[] Sample()
    {
        using MemoryStream ms = new();
        CpioNewcWriter w = new(ms);
        w.AddDirectory("bin");
        w.AddFile("bin/hello", "hello world\n"u8, 0x1ED);
        w.AddFile("odd", "abc"u8);
        w.AddSymlink("bin/sh", "/bin/hello");
        w.AddCharDevice("dev-console", 5, 1);
        w.Finish();
        return ms.ToArray();
    }

    [Fact]
    public void Write_Entries_ReadBackIdentically()
    {
        IReadOnlyList<CpioEntry> e = CpioNewcReader.ReadAll(Sample());

        Assert.Equal(["bin", "bin/hello", "odd", "bin/sh", "dev-console"], e.Select(x => x.Name));
        Assert.Equal(CpioNewcWriter.S_IFDIR, e[0].Type);
        Assert.Equal(CpioNewcWriter.S_IFREG | 0x1ED, e[1].Mode);
        Assert.Equal("hello world\n"u8.ToArray(), e[1].Data);
        Assert.Equal("abc"u8.ToArray(), e[2].Data);
        Assert.Equal(CpioNewcWriter.S_IFLNK, e[3].Type);
        Assert.Equal("/bin/hello"u8.ToArray(), e[3].Data);
        Assert.Equal((CpioNewcWriter.S_IFCHR, 5u, 1u), (e[4].Type, e[4].RdevMajor, e[4].RdevMinor));
        Assert.All(e, x => Assert.Equal((0u, 0u, CpioNewcWriter.Mtime), (x.Uid, x.Gid, x.Mtime)));
    }

    [Fact]
    public void Write_SameInput_SameBytes() => Assert.Equal(Sample(), Sample());

    [Fact]
    public async Task Write_Archive_Cpio1ListsAndExtractsIt()
    {
        byte[] archive = Sample();
        var list = await Tools.RunAsync("cpio", ["-t", "--quiet"], archive, TestContext.Current.CancellationToken);
        Assert.Equal(0, list.Exit);
        Assert.Equal(["bin", "bin/hello", "odd", "bin/sh", "dev-console"], list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Add_DuplicateOrUncleanName_Throws()
    {
        CpioNewcWriter w = new(new MemoryStream());
        w.AddFile("a", "x"u8);
        Assert.Throws<ArgumentException>(() => w.AddFile("a", "y"u8));
        Assert.Throws<ArgumentException>(() => w.AddFile("../etc/passwd", "y"u8));
    }

    [Fact]
    public void ReadAll_TruncatedArchive_Throws()
    {
        byte[] a = Sample();
        Assert.Throws<InvalidDataException>(() => CpioNewcReader.ReadAll(a.AsSpan(0, a.Length - 130)));
    }
}
