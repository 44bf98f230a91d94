using Kindling.Images.Rootfs;
using Kindling.Testing;

[assembly: AssemblyFixture(typeof(Kindling.Images.Tests.ImageStoreFixture))]

namespace Kindling.Images.Tests;

/// <summary>
/// One image store shared by the tests, under the test cache (KINDLING_TEST_CACHE): the Debian kernel is fetched
/// once, the initramfs and the minimal base image are built once.
/// </summary>
public sealed class ImageStoreFixture : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private KernelArtifacts? _kernel;
    private KernelArtifacts? _kindlingKernel;
    private BaseImage? _minimal;

    public ImageStoreFixture()
    {
        Store = new ImageStore(Options(Path.Combine(RepoPaths.Cache, "images")));
    }

    public static string GuestDirectory => Path.Combine(RepoPaths.Root, "images", "guest");

    public ImageStore Store { get; }

    public static ImageStoreOptions Options(string cache) => new() { CacheDirectory = cache, GuestDirectory = GuestDirectory };

    public async Task<KernelArtifacts> KernelAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _kernel ??= await Store.EnsureKernelAsync(null, TestContext.Current.CancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kindling's own kernel (built from linux-source the first time: minutes) and its initramfs.</summary>
    public async Task<KernelArtifacts> KindlingKernelAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _kindlingKernel ??= await Store.EnsureKernelAsync(GuestKernel.Kindling, null, TestContext.Current.CancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<BaseImage> MinimalAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _minimal ??= await Store.EnsureBaseAsync(Flavour.Minimal, null, TestContext.Current.CancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
