using Kindling.Images.Overlays;

namespace Kindling.Images.Tests.Overlays;

public sealed class OverlayTests(ImageStoreFixture fixture)
{
    [Fact]
    public async Task CreateOverlay_Workspace_UpperHoldsFilesWorkIsEmptyAndFsckClean()
    {
        string ws = MakeWorkspace(5);
        try
        {
            using Overlay o = await fixture.Store.CreateOverlayAsync(ws, 64L << 20, TestContext.Current.CancellationToken);

            var ls = await Tools.RunAsync("debugfs", "-R", "ls -l /upper/workspace/src", o.Path);
            Assert.Contains("file3.txt", ls.Out);
            var cat = await Tools.RunAsync("debugfs", "-R", "cat /upper/workspace/src/file3.txt", o.Path);
            Assert.Equal("content of file 3\n", cat.Out);
            var work = await Tools.RunAsync("debugfs", "-R", "ls /work", o.Path);
            Assert.DoesNotContain("file", work.Out);
            Assert.Equal(0, (await Tools.RunAsync("e2fsck", "-fn", o.Path)).Exit);
            Assert.Equal(64L << 20, new FileInfo(o.Path).Length);
            Assert.True(Kindling.Images.Tools.SparseFile.AllocatedBytes(o.Path) < 16L << 20, "overlay image is sparse");
            o.Dispose();
            Assert.False(File.Exists(o.Path));
        }
        finally
        {
            Directory.Delete(ws, true);
        }
    }

    [Fact]
    public async Task CreateOverlay_WorkspaceLargerThanLimit_RefusedBeforeBoot()
    {
        string ws = Directory.CreateTempSubdirectory("kindling-ws-").FullName;
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(ws, "big.bin"), new byte[12 << 20], TestContext.Current.CancellationToken);
            string dir = Path.Combine(fixture.Store.CacheDirectory, ImageStore.OverlaysDir);
            int before = Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir).Length : 0;

            ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => fixture.Store.CreateOverlayAsync(ws, 10L << 20, TestContext.Current.CancellationToken));

            Assert.Contains("overlay is limited to 10 MiB", e.Message);
            Assert.Equal(before, Directory.GetFileSystemEntries(dir).Length);
        }
        finally
        {
            Directory.Delete(ws, true);
        }
    }

    [Fact]
    public async Task CreateOverlay_FileList_PathEscapingWorkspaceRefused()
    {
        OverlayFile[] files = [new("../../etc/passwd", "x"u8.ToArray())];
        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => fixture.Store.CreateOverlayAsync(files, 16L << 20, TestContext.Current.CancellationToken));
        Assert.Contains("leaves the workspace", e.Message);
    }

    private static string MakeWorkspace(int files)
    {
        string ws = Directory.CreateTempSubdirectory("kindling-ws-").FullName;
        Directory.CreateDirectory(Path.Combine(ws, "src"));
        for (int i = 0; i < files; i++)
        {
            File.WriteAllText(Path.Combine(ws, "src", $"file{i}.txt"), $"content of file {i}\n");
        }

        return ws;
    }
}
