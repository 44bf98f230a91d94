using System.IO.Compression;
using Kindling.Images.Initramfs;

namespace Kindling.Images.Tests.Initramfs;

public sealed class InitramfsTests(ImageStoreFixture fixture)
{
    [Fact]
    public async Task EnsureKernel_Initramfs_HoldsInitAgentBusyboxModulesAndConsole()
    {
        KernelArtifacts k = await fixture.KernelAsync();
        byte[] cpio = await Gunzip(k.InitramfsPath);
        Dictionary<string, CpioEntry> e = CpioNewcReader.ReadAll(cpio).ToDictionary(x => x.Name);

        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(ImageStoreFixture.GuestDirectory, "init"), TestContext.Current.CancellationToken), e["init"].Data);
        Assert.Equal(CpioNewcWriter.S_IFREG | 0x1ED, e["init"].Mode);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(ImageStoreFixture.GuestDirectory, "agent.sh"), TestContext.Current.CancellationToken), e["kindling/agent.sh"].Data);
        Assert.Equal(await File.ReadAllBytesAsync("/bin/busybox", TestContext.Current.CancellationToken), e["kindling/bin/busybox"].Data);
        Assert.Equal("/kindling/bin/busybox"u8.ToArray(), e["bin/sh"].Data);
        Assert.Equal(CpioNewcWriter.S_IFLNK, e["sbin/switch_root"].Type);
        Assert.Equal((CpioNewcWriter.S_IFCHR, 5u, 1u), (e["dev/console"].Type, e["dev/console"].RdevMajor, e["dev/console"].RdevMinor));

        string[] order = System.Text.Encoding.UTF8.GetString(e["lib/modules/modules.order"].Data).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(k.Modules.Select(Path.GetFileName), order);
        Assert.All(order, m => Assert.True(e["lib/modules/" + m].Data.Length > 0));

        var list = await Tools.RunAsync("cpio", ["-t", "--quiet"], cpio, TestContext.Current.CancellationToken);
        Assert.Equal(0, list.Exit);
        Assert.Contains("lib/modules/virtio_mmio.ko", list.Out.Split('\n'));
        Assert.Contains("init", list.Out.Split('\n'));
    }

    private static async Task<byte[]> Gunzip(string path)
    {
        await using FileStream f = File.OpenRead(path);
        await using GZipStream z = new(f, CompressionMode.Decompress);
        using MemoryStream ms = new();
        await z.CopyToAsync(ms, TestContext.Current.CancellationToken);
        return ms.ToArray();
    }
}
