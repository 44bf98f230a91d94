using Kindling.Images.Tools;

namespace Kindling.Images.Tests.Rootfs;

public sealed class Ext4ImageMeasureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-ext4-measure-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Measure_TreeWithLinksToFolders_CountsEachLinkNotWhatItNames()
    {
        string tree = Directory.CreateDirectory(Path.Combine(_dir, "tree")).FullName;
        string outside = Directory.CreateDirectory(Path.Combine(_dir, "outside")).FullName;
        for (int i = 0; i < 50; i++)
        {
            File.WriteAllBytes(Path.Combine(outside, $"big{i}"), new byte[100_000]);
        }

        Directory.CreateDirectory(Path.Combine(tree, "dev"));
        File.WriteAllBytes(Path.Combine(tree, "file"), new byte[5000]);
        File.CreateSymbolicLink(Path.Combine(tree, "dev", "fd"), "/proc/self/fd"); // as a Debian tree has it
        Directory.CreateSymbolicLink(Path.Combine(tree, "elsewhere"), outside);

        (long bytes, long inodes) = Ext4Image.Measure(tree);

        Assert.Equal(1 + 4, inodes); // the root, dev, file and the two links
        Assert.Equal(Ext4Image.BlockSize + 2 * Ext4Image.BlockSize, bytes); // dev's block and file's two
    }
}
