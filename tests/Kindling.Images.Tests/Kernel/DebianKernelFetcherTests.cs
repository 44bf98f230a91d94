namespace Kindling.Images.Tests.Kernel;

public sealed class DebianKernelFetcherTests
{
    [Fact]
    public async Task EnsureKernel_PackageDoesNotExist_ClearMessageAndNothingHalfWritten()
    {
        using TempCache cache = new();
        ImageStore store = new(new ImageStoreOptions
        {
            CacheDirectory = cache.Path,
            GuestDirectory = ImageStoreFixture.GuestDirectory,
            KernelPackage = "linux-image-kindling-no-such-package",
        });

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => store.EnsureKernelAsync(null, TestContext.Current.CancellationToken));

        Assert.Contains("linux-image-kindling-no-such-package", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(cache.Path, ImageStore.KernelDir)));
    }
}
