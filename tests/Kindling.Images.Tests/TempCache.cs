namespace Kindling.Images.Tests;

/// <summary>A private cache directory for one test, deleted afterwards.</summary>
internal sealed class TempCache : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("kindling-images-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
