using Kindling.Images.Rootfs;
using Spectre.Console;

namespace Kindling.Images.Tests;

public sealed class ImageCommandsTests(ImageStoreFixture fixture)
{
    private static (IAnsiConsole Console, StringWriter Output) Console() => PlainConsole.Create(width: 200);

    [Fact]
    public async Task Build_Minimal_ExitZeroAndTableOfArtifacts()
    {
        await fixture.KernelAsync();
        await fixture.MinimalAsync();
        (IAnsiConsole console, StringWriter output) = Console();

        int code = await new ImageCommands(fixture.Store).BuildAsync(Flavour.Minimal, console, TestContext.Current.CancellationToken);

        Assert.Equal(0, code);
        string text = output.ToString();
        Assert.Contains("vmlinux", text);
        Assert.Contains("initramfs", text);
        Assert.Contains("base (minimal, cached)", text);
    }

    [Fact]
    public async Task Build_BrokenGuestDirectory_ExitOneWithTheMessage()
    {
        using TempCache cache = new();
        ImageStore store = new(new ImageStoreOptions { CacheDirectory = cache.Path, GuestDirectory = Path.Combine(cache.Path, "no-guest") });
        (IAnsiConsole console, StringWriter output) = Console();

        int code = await new ImageCommands(store).BuildAsync(Flavour.Minimal, console, TestContext.Current.CancellationToken);

        Assert.Equal(1, code);
        Assert.Contains("error:", output.ToString());
        Assert.Contains("no-guest", output.ToString());
    }

    [Fact]
    public async Task List_AfterBuild_ShowsKernelInitramfsAndBase()
    {
        await fixture.KernelAsync();
        BaseImage image = await fixture.MinimalAsync();
        (IAnsiConsole console, StringWriter output) = Console();

        int code = new ImageCommands(fixture.Store).List(console);

        Assert.Equal(0, code);
        string text = output.ToString();
        Assert.Contains("kernel", text);
        Assert.Contains("initramfs-", text);
        Assert.Contains(Path.GetFileName(image.Path), text);
    }

    [Fact]
    public void List_EmptyCache_SaysHowToBuild()
    {
        using TempCache cache = new();
        (IAnsiConsole console, StringWriter output) = Console();

        Assert.Equal(0, new ImageCommands(new ImageStore(ImageStoreFixture.Options(cache.Path))).List(console));
        Assert.Contains("kindling images build", output.ToString());
    }
}
