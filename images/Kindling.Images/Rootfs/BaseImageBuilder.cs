using Kindling.Images.Tools;

namespace Kindling.Images.Rootfs;

/// <summary>
/// Builds a base root filesystem tree for a flavour and writes it as an ext4 image. The tree always holds the agent
/// at /kindling/agent.sh and a static busybox at /kindling/bin/busybox (the agent's own tools), so any flavour can
/// run jobs. The <see cref="Flavour.Github"/> flavour also gets the actions runner from the verified
/// <paramref name="actionsRunnerTarball"/> (<see cref="ActionsRunnerLayer"/>).
/// </summary>
internal sealed class BaseImageBuilder(GuestFiles guest, BaseImageRecipe recipe, string? actionsRunnerTarball = null)
{
    public const string Label = "kindling-base";
    private const long MinImageBytes = 32L << 20;
    private const long SlackBytes = 64L << 20;
    private const double SizeFactor = 1.2;

    public async Task BuildAsync(string workDir, string imagePath, IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        string tree = Path.Combine(workDir, "tree");
        Directory.CreateDirectory(tree);
        if (recipe.Flavour.IsDebootstrapped())
        {
            await DebootstrapAsync(tree, progress, ct);
        }
        else
        {
            progress?.Report(new ImageProgress("rootfs", "assembling the minimal tree", 0.2));
            await MinimalTreeAsync(tree, ct);
        }

        if (recipe.Flavour == Flavour.Github)
        {
            await ActionsRunnerLayer.AddAsync(tree, actionsRunnerTarball ?? throw new ImageBuildException("the github flavour needs the actions/runner tarball"), progress, ct);
        }

        AddAgent(tree);
        (long bytes, long inodes) = Ext4Image.Measure(tree);
        long size = Math.Max(MinImageBytes, RoundMiB((long)(bytes * SizeFactor) + SlackBytes));
        long inodeCount = (inodes * 3 / 2) + 4096;
        CheckFreeSpace(imagePath, bytes);
        progress?.Report(new ImageProgress("rootfs", $"writing ext4 ({size >> 20} MiB, {inodes} files)", 0.8));
        await Ext4Image.CreateAsync(imagePath, tree, size, Label, inodeCount, ct);
    }

    private static long RoundMiB(long b) => (b + (1 << 20) - 1) >> 20 << 20;

    private static void CheckFreeSpace(string imagePath, long needed)
    {
        try
        {
            DriveInfo drive = new(Path.GetDirectoryName(Path.GetFullPath(imagePath))!);
            if (drive.AvailableFreeSpace < needed)
            {
                throw new ImageBuildException(
                    $"not enough disk space for the base image in {Path.GetDirectoryName(imagePath)}: " +
                    $"needs ~{needed >> 20} MiB, {drive.AvailableFreeSpace >> 20} MiB free; free space or move the image cache");
            }
        }
        catch (ArgumentException)
        {
            // Not a mount we can query: mkfs will report ENOSPC itself.
        }
    }

    private async Task MinimalTreeAsync(string tree, CancellationToken ct)
    {
        foreach (string d in new[] { "bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "root", "etc", "workspace", "mnt", "var", "home" })
        {
            Directory.CreateDirectory(Path.Combine(tree, d));
        }

        Directory.CreateDirectory(Path.Combine(tree, "tmp"));
        UnixMode.Set(Path.Combine(tree, "tmp"), (UnixFileMode)0x3FF);
        string busybox = Path.Combine(tree, "bin", "busybox");
        await File.WriteAllBytesAsync(busybox, guest.Busybox, ct);
        UnixMode.Set(busybox, (UnixFileMode)0x1ED);
        foreach (string applet in await guest.AppletsAsync(ct))
        {
            string link = Path.Combine(tree, "bin", applet);
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }

        File.CreateSymbolicLink(Path.Combine(tree, "usr", "bin", "env"), "/bin/busybox"); // #!/usr/bin/env scripts

        Dictionary<string, string> etc = new()
        {
            ["passwd"] = "root:x:0:0:root:/root:/bin/sh\n",
            ["group"] = "root:x:0:\n",
            ["hostname"] = "kindling\n",
            ["hosts"] = "127.0.0.1 localhost kindling\n",
            ["resolv.conf"] = "",
            ["os-release"] = "NAME=\"Kindling minimal\"\nID=kindling\nPRETTY_NAME=\"Kindling minimal (busybox)\"\n",
        };
        foreach ((string name, string content) in etc)
        {
            await File.WriteAllTextAsync(Path.Combine(tree, "etc", name), content, ct);
        }
    }

    private void AddAgent(string tree)
    {
        string dir = Path.Combine(tree, "kindling", "bin");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(Path.Combine(tree, "workspace"));
        string agent = Path.Combine(tree, GuestFiles.GuestAgentPath);
        File.WriteAllBytes(agent, guest.Agent);
        UnixMode.Set(agent, (UnixFileMode)0x1ED);
        string bb = Path.Combine(tree, GuestFiles.GuestBusyboxPath);
        File.WriteAllBytes(bb, guest.Busybox);
        UnixMode.Set(bb, (UnixFileMode)0x1ED);

        // Guests resolve names at their gateway (the runner's DNS forwarder); the agent writes its address from MMDS.
        // Never the build host's resolver (debootstrap copies it in), and never through a symlink out of the tree.
        string resolv = Path.Combine(tree, "etc", "resolv.conf");
        File.Delete(resolv);
        File.WriteAllText(resolv, ResolvConfPlaceholder);
    }

    /// <summary>The base image's /etc/resolv.conf until the agent writes the VM's gateway into it (MMDS kindling/network/dns).</summary>
    public const string ResolvConfPlaceholder = "# the guest's resolver is its gateway (the host side of its /30); the agent writes it at job start from MMDS kindling/network/dns\n";

    private async Task DebootstrapAsync(string tree, IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        if (Environment.UserName != "root")
        {
            throw new ImageBuildException($"the {recipe.Flavour.ToName()} flavour needs root (debootstrap); run as root or build the minimal flavour");
        }

        progress?.Report(new ImageProgress("rootfs", $"debootstrap {recipe.Suite} (minbase + {string.Join(", ", recipe.Packages)}); this takes minutes", 0.1));
        ProcessResult r = await ProcessRunner.RunAsync(
            "debootstrap",
            ["--variant=minbase", "--include=" + string.Join(',', recipe.Packages), recipe.Suite, tree, recipe.Mirror],
            throwOnFailure: false,
            cancellationToken: ct);
        if (r.ExitCode != 0)
        {
            string all = r.StandardOutput + r.StandardError;
            string hint = all.Contains("Couldn't find these debs", StringComparison.Ordinal) || all.Contains("Unable to locate package", StringComparison.Ordinal)
                ? $" — a package in the recipe ({string.Join(", ", recipe.Packages)}) does not exist in {recipe.Suite}; fix the package list"
                : "";
            throw new ImageBuildException(ProcessRunner.Describe("debootstrap", [recipe.Suite, tree, recipe.Mirror], r) + hint);
        }

        // Clean caches to keep the image small.
        TempDirectoryCleaner(Path.Combine(tree, "var", "cache", "apt", "archives"));
        TempDirectoryCleaner(Path.Combine(tree, "var", "lib", "apt", "lists"));
    }

    private static void TempDirectoryCleaner(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (string f in Directory.GetFiles(dir))
        {
            File.Delete(f);
        }
    }
}
