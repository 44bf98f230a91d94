using Kindling.Images.Rootfs;
using Spectre.Console;

namespace Kindling.Images;

/// <summary>The <c>kindling images build|list|fetch-runner</c> verbs (the runner's CLI calls these).</summary>
public sealed class ImageCommands(ImageStore store)
{
    /// <summary>Builds (or confirms cached) kernel, initramfs and the flavour's base image, with a progress bar.</summary>
    public async Task<int> BuildAsync(Flavour flavour, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        try
        {
            BaseImageRecipe recipe = store.RecipeFor(flavour); // refuses a github flavour without its runner release before the kernel's minutes
            KernelArtifacts? kernel = null;
            BaseImage? image = null;
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    ProgressTask kt = ctx.AddTask("kernel + initramfs", maxValue: 1);
                    kernel = await store.EnsureKernelAsync(new TaskProgress(kt), cancellationToken);
                    kt.Value = 1;
                    ProgressTask bt = ctx.AddTask($"{flavour.ToName()} base image", maxValue: 1);
                    image = await store.EnsureBaseAsync(recipe, new TaskProgress(bt), cancellationToken);
                    bt.Value = 1;
                });
            Table t = new Table().AddColumns("artifact", "path", "size");
            t.AddRow("vmlinux", Markup.Escape(kernel!.VmlinuxPath), Size(new FileInfo(kernel.VmlinuxPath).Length));
            t.AddRow("initramfs", Markup.Escape(kernel.InitramfsPath), Size(new FileInfo(kernel.InitramfsPath).Length));
            t.AddRow($"base ({flavour.ToName()}{(image!.Built ? ", built" : ", cached")})", Markup.Escape(image.Path), Size(image.SizeBytes));
            console.Write(t);
            return 0;
        }
        catch (ImageBuildException e)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }
    }

    /// <summary>
    /// Fetches (or confirms cached) the actions/runner release tarball of <paramref name="source"/> into this store's
    /// cache, with a progress bar; prints where it is, its size and hash.
    /// </summary>
    public async Task<int> FetchRunnerAsync(ActionsRunner.ActionsRunnerSource source, HttpClient http, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        try
        {
            ActionsRunner.ActionsRunnerTarball? tarball = null;
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    ProgressTask task = ctx.AddTask($"actions/runner {Markup.Escape(source.Version)}", maxValue: 1);
                    tarball = await new ActionsRunner.ActionsRunnerFetcher(store.CacheDirectory, http).EnsureAsync(source, new TaskProgress(task), cancellationToken);
                    task.Value = 1;
                });
            Table t = new Table().AddColumns("artifact", "path", "size", "sha256");
            t.AddRow($"actions/runner {Markup.Escape(tarball!.Version)}", Markup.Escape(tarball.Path), Size(tarball.Length), tarball.Sha256);
            console.Write(t);
            return 0;
        }
        catch (ImageBuildException e)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }
    }

    /// <summary>Lists cached images.</summary>
    public int List(IAnsiConsole console)
    {
        IReadOnlyList<ImageInfo> images = store.List();
        if (images.Count == 0)
        {
            console.MarkupLine($"no images in {Markup.Escape(store.CacheDirectory)}; run [bold]kindling images build[/]");
            return 0;
        }

        Table t = new Table().AddColumns("kind", "name", "size", "on disk", "created");
        foreach (ImageInfo i in images)
        {
            t.AddRow(i.Kind, Markup.Escape(i.Name), Size(i.SizeBytes), Size(i.AllocatedBytes), i.Created.ToString("u"));
        }

        console.Write(t);
        return 0;
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        _ => $"{bytes / 1024.0:F0} KiB",
    };

    /// <summary>Forwards <see cref="ImageProgress"/> to a Spectre progress task (synchronously, no context hop).</summary>
    private sealed class TaskProgress(ProgressTask task) : IProgress<ImageProgress>
    {
        private readonly string _name = task.Description;

        public void Report(ImageProgress value)
        {
            task.Description = $"{_name}: {Markup.Escape(value.Message)}";
            if (value.Fraction is { } f)
            {
                task.Value = Math.Clamp(f, 0, 1);
            }
        }
    }
}
