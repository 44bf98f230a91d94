namespace Kindling.Vmm.Tests.Boot;

/// <summary>A per-test temporary directory, deleted on dispose.</summary>
internal sealed class TempFiles : IDisposable
{
    public TempFiles() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "kindling-boot-" + Guid.NewGuid().ToString("N"));

    public string Write(string name, byte[] content)
    {
        string path = Path.Combine(Root, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
