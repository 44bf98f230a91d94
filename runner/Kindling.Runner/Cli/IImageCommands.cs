using System.Security.Cryptography;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Cli;

/// <summary>An image file as listed by <c>kindling images list</c>.</summary>
public sealed record ImageInfo(string Name, string Path, long Bytes, string Sha256);

/// <summary>What <c>kindling images build|list</c> do; the images library's adapter replaces the default.</summary>
public interface IImageCommands
{
    Task<GuestImages> BuildAsync(IProgress<ImageProgress> progress, CancellationToken ct);

    IReadOnlyList<ImageInfo> List();
}

/// <summary>Default: build through the configured <see cref="IImageProvider"/>, list the files of the images directory.</summary>
public sealed class ProviderImageCommands(IImageProvider provider, string imagesDirectory) : IImageCommands
{
    public Task<GuestImages> BuildAsync(IProgress<ImageProgress> progress, CancellationToken ct) => provider.EnsureImagesAsync(progress, ct);

    public IReadOnlyList<ImageInfo> List()
    {
        if (!Directory.Exists(imagesDirectory))
        {
            return [];
        }

        return [.. Directory.GetFiles(imagesDirectory).Order(StringComparer.Ordinal).Select(f =>
        {
            using FileStream s = File.OpenRead(f);
            return new ImageInfo(Path.GetFileName(f), f, s.Length, Convert.ToHexStringLower(SHA256.HashData(s)));
        })];
    }
}
