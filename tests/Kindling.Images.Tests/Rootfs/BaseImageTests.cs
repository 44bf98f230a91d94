using Kindling.Images.Rootfs;
using Kindling.Testing;

namespace Kindling.Images.Tests.Rootfs;

public sealed class BaseImageTests(ImageStoreFixture fixture)
{
    [Fact]
    public async Task EnsureBase_Minimal_Ext4WithBusyboxAgentAndCleanFsck()
    {
        BaseImage image = await fixture.MinimalAsync();

        var ls = await Tools.RunAsync("debugfs", "-R", "ls -l /", image.Path);
        Assert.Equal(0, ls.Exit);
        foreach (string name in new[] { "bin", "etc", "kindling", "workspace", "proc", "tmp" })
        {
            Assert.Contains($" {name}", ls.Out);
        }

        var agent = await Tools.RunAsync("debugfs", "-R", "cat /kindling/agent.sh", image.Path);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(ImageStoreFixture.GuestDirectory, "agent.sh"), TestContext.Current.CancellationToken), agent.Out);
        var sh = await Tools.RunAsync("debugfs", "-R", "stat /bin/sh", image.Path);
        Assert.Contains("Type: symlink", sh.Out);
        var fsck = await Tools.RunAsync("e2fsck", "-fn", image.Path);
        Assert.True(fsck.Exit == 0, fsck.Out + fsck.Err);
    }

    [Fact]
    public async Task EnsureBase_SecondCall_IsACacheHit()
    {
        using TempCache cache = new();
        ImageStore store = new(ImageStoreFixture.Options(cache.Path));
        BaseImage first = await store.EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);
        DateTime written = File.GetLastWriteTimeUtc(first.Path);

        BaseImage second = await new ImageStore(ImageStoreFixture.Options(cache.Path)).EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);

        Assert.True(first.Built);
        Assert.False(second.Built);
        Assert.Equal(first.Path, second.Path);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second.Path));
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(first.Path)!, ".tmp-*"));
    }

    [Fact]
    public async Task EnsureBase_MinimalTwiceInOneStore_BuiltOnce()
    {
        using TempCache cache = new();
        ImageStore store = new(ImageStoreFixture.Options(cache.Path));

        BaseImage built = await store.EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);
        BaseImage again = await store.EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);

        Assert.True(built.Built);
        Assert.False(again.Built);
        Assert.Equal(built.Path, again.Path);
    }

    [Fact]
    public async Task EnsureBase_RecipeChanged_Rebuilds()
    {
        using TempCache cache = new();
        ImageStore store = new(ImageStoreFixture.Options(cache.Path));
        BaseImageRecipe recipe = store.RecipeFor(Flavour.Minimal);
        BaseImage first = await store.EnsureBaseAsync(recipe, null, TestContext.Current.CancellationToken);

        BaseImage changed = await store.EnsureBaseAsync(recipe with { AgentSha256 = new string('0', 64) }, null, TestContext.Current.CancellationToken);

        Assert.True(changed.Built);
        Assert.NotEqual(first.Path, changed.Path);
        Assert.NotEqual(first.RecipeHash, changed.RecipeHash);
    }

    [Fact]
    public async Task EnsureBase_CorruptCachedImage_IsRebuilt()
    {
        using TempCache cache = new();
        BaseImage first = await new ImageStore(ImageStoreFixture.Options(cache.Path)).EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);
        await using (FileStream f = new(first.Path, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 1024 + 100; // inside the ext4 superblock
            f.WriteByte(0xAA);
        }

        BaseImage again = await new ImageStore(ImageStoreFixture.Options(cache.Path)).EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);

        Assert.True(again.Built);
        var fsck = await Tools.RunAsync("e2fsck", "-fn", again.Path);
        Assert.Equal(0, fsck.Exit);
    }

    [Fact]
    public async Task EnsureBase_MissingGuestFile_ClearMessageAndNothingWritten()
    {
        using TempCache cache = new();
        string guest = Directory.CreateTempSubdirectory("kindling-guest-").FullName;
        try
        {
            File.Copy(Path.Combine(ImageStoreFixture.GuestDirectory, "init"), Path.Combine(guest, "init"));
            ImageStore store = new(new ImageStoreOptions { CacheDirectory = cache.Path, GuestDirectory = guest });

            ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => store.EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken));

            Assert.Contains("agent.sh", e.Message);
            Assert.False(Directory.Exists(Path.Combine(cache.Path, ImageStore.BaseDir)) && Directory.EnumerateFileSystemEntries(Path.Combine(cache.Path, ImageStore.BaseDir)).Any());
        }
        finally
        {
            Directory.Delete(guest, true);
        }
    }

    [RootFact]
    public async Task EnsureBase_DiskFull_ClearMessageAndNothingLeftInTheCache()
    {
        using TempCache cache = new();
        string small = Path.Combine(cache.Path, "small");
        Directory.CreateDirectory(small);
        Assert.Equal(0, (await Tools.RunAsync("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", small)).Exit);
        try
        {
            ImageStore store = new(ImageStoreFixture.Options(small));

            ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => store.EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken));

            Assert.Matches("disk full|not enough disk space|No space left", e.Message);
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(small, ImageStore.BaseDir)));
        }
        finally
        {
            await Tools.RunAsync("umount", small);
        }
    }

    [Fact]
    public async Task EnsureBase_Debian_BuildsWithDebootstrap()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("KINDLING_SLOW_TESTS") == "1", "slow (debootstrap, minutes): set KINDLING_SLOW_TESTS=1");
        Assert.SkipWhen(HostFacts.RootUnavailableReason is not null, "debootstrap needs root");
        BaseImage image = await fixture.Store.EnsureBaseAsync(Flavour.Debian, null, TestContext.Current.CancellationToken);
        foreach (string tool in (string[])["/usr/bin/git", "/usr/bin/node", "/usr/bin/python3"])
        {
            // debugfs follows no links: python3 is a link to python3.N, so its inode is a regular file or a symlink
            var stat = await Tools.RunAsync("debugfs", "-R", $"stat {tool}", image.Path);
            Assert.Matches("Type: (regular|symlink)", stat.Out);
        }

        var fsck = await Tools.RunAsync("e2fsck", "-fn", image.Path);
        Assert.Equal(0, fsck.Exit);
    }
}
