
namespace Kindling.Runner.Launch;

/// <summary>
/// Images found in a directory (<c>Kindling:Launcher:ImagesDirectory</c>): <c>vmlinux</c>, <c>rootfs.ext4</c>,
/// optional <c>initramfs.cpio</c> and <c>boot-args</c> (the kernel command line, else <see cref="DefaultBootArgs"/>);
/// overlays are empty ext4 files made with <c>mkfs.ext4</c> in the job's work directory.
/// </summary>
public sealed class DirectoryImageProvider(string directory, long overlayBytes = 1L << 30) : IImageProvider
{
    public const string Kernel = "vmlinux";
    public const string Initrd = "initramfs.cpio";
    public const string Rootfs = "rootfs.ext4";
    public const string BootArgsFile = "boot-args";
    public const string OverlayFile = "overlay.ext4";
    public const string DefaultBootArgs = "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp";

    public Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        progress?.Report(new ImageProgress("looking for images in " + directory, 0));
        string kernel = Path.Combine(directory, Kernel);
        string rootfs = Path.Combine(directory, Rootfs);
        string initrd = Path.Combine(directory, Initrd);
        string[] missing = [.. new[] { kernel, rootfs }.Where(p => !File.Exists(p))];
        if (missing.Length > 0)
        {
            throw new ImagesUnavailableException(
                $"guest images are missing: {string.Join(", ", missing)}; build them with `kindling images build` (or put a vmlinux and rootfs.ext4 in {directory})");
        }

        progress?.Report(new ImageProgress("images ready", 1));
        string bootArgsFile = Path.Combine(directory, BootArgsFile);
        string bootArgs = File.Exists(bootArgsFile) ? File.ReadAllText(bootArgsFile).Trim() : DefaultBootArgs;
        return Task.FromResult(new GuestImages(kernel, File.Exists(initrd) ? initrd : null, rootfs, bootArgs));
    }

    public async Task<string> CreateOverlayAsync(string workDir, CancellationToken ct)
    {
        string path = Path.Combine(workDir, OverlayFile);
        string temp = path + ".tmp";
        try
        {
            await using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                f.SetLength(overlayBytes); // sparse
            }

            ProcessResult mkfs;
            try
            {
                mkfs = await ProcessRunner.RunAsync("mkfs.ext4", ["-q", "-F", "-L", "kindling-overlay", temp], cancellationToken: ct);
            }
            catch (ProcessStartException e)
            {
                throw new IOException($"cannot start mkfs.ext4 (install e2fsprogs): {e.Reason}", e);
            }

            if (mkfs.ExitCode != 0)
            {
                string detail = $"mkfs.ext4 {temp} failed ({mkfs.ExitCode}): {(mkfs.StandardError + " " + mkfs.StandardOutput).Trim()}";
                throw detail.Contains(DiskFullException.NoSpaceText, StringComparison.OrdinalIgnoreCase)
                    ? new DiskFullException("building the overlay", workDir, detail)
                    : new IOException(detail);
            }
        }
        catch (Exception e) when (e is IOException && e is not DiskFullException && DiskFullException.Indicates(e))
        {
            File.Delete(temp);
            throw new DiskFullException("building the overlay", workDir, e.Message, e);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        File.Move(temp, path, overwrite: true);
        return path;
    }

    public void DeleteOverlay(string overlayPath)
    {
        File.Delete(overlayPath);
        File.Delete(overlayPath + ".tmp");
    }
}
