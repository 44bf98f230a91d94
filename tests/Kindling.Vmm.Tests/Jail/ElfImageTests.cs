using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

public sealed class ElfImageTests : IDisposable
{
    /// <summary>A dynamically linked executable every Debian host has (coreutils).</summary>
    private const string HostExecutable = "/bin/true";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kindling-elf-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Read_DynamicExecutable_NamesTheLoaderAndLibc()
    {
        ElfImage image = ElfImage.Read(HostExecutable);

        Assert.Equal("/lib64/ld-linux-x86-64.so.2", image.Interpreter);
        Assert.Contains("libc.so.6", image.Needed);
        Assert.False(image.IsNativeAot);
    }

    [Fact]
    public void Read_ManagedApphost_IsNotNativeAot()
    {
        // The framework-dependent kindling-vmm beside the tests: an ELF executable that starts the runtime.
        ElfImage image = ElfImage.Read(Path.Combine(AppContext.BaseDirectory, "kindling-vmm"));

        Assert.Contains("libc.so.6", image.Needed);
        Assert.False(image.IsNativeAot);
    }

    [Fact]
    public void Read_ManagedCodeSection_IsNativeAot()
    {
        string path = Write("native", ElfBuilder.WithSections(".text", ElfImage.ManagedCodeSection));

        ElfImage image = ElfImage.Read(path);

        Assert.Equal([".shstrtab", ".text", "__managedcode"], image.Sections.Skip(1));
        Assert.True(image.IsNativeAot);
        Assert.True(ElfImage.IsNativeAotFile(path));
        Assert.Null(image.Interpreter);
        Assert.Empty(image.Needed);
    }

    [Fact]
    public void Read_NotElf_FailsNamingTheFile()
    {
        string path = Write("script", "#!/bin/sh\necho hi\n"u8.ToArray());

        JailException e = Assert.Throws<JailException>(() => ElfImage.Read(path));

        Assert.Equal($"{path} is not an executable the jail can hold: no ELF magic", e.Message);
        Assert.False(ElfImage.IsNativeAotFile(path));
    }

    [Fact]
    public void Read_SectionTablePastTheEnd_FailsInsteadOfReadingBeyondTheFile()
    {
        byte[] elf = ElfBuilder.WithSections(ElfImage.ManagedCodeSection);
        string path = Write("truncated", elf[..^64]);

        JailException e = Assert.Throws<JailException>(() => ElfImage.Read(path));

        Assert.Contains("lies outside the file", e.Message, StringComparison.Ordinal);
        Assert.False(ElfImage.IsNativeAotFile(path));
    }

    [Fact]
    public void NativeLibrariesFor_DynamicExecutable_ListsTheLoaderAndLibcAtTheLoadersPathsFromRealFiles()
    {
        IReadOnlyList<JailResource> libraries = NativeLibraries.For(ElfImage.Read(HostExecutable));

        Assert.Equal("/lib64/ld-linux-x86-64.so.2", libraries[0].JailPath);
        JailResource libc = Assert.Single(libraries, l => Path.GetFileName(l.JailPath) == "libc.so.6");
        Assert.Equal(NativeLibraries.DefaultDirectories.Select(d => Path.Combine(d, "libc.so.6")).First(File.Exists), libc.JailPath);
        Assert.All(libraries, l =>
        {
            Assert.True(File.Exists(l.HostPath), l.HostPath);
            Assert.Null(new FileInfo(l.HostPath).LinkTarget); // a hard link to a symbolic link would dangle in the jail
            Assert.False(l.Writable);
        });
        Assert.Equal(libraries.Count, libraries.Select(l => l.JailPath).Distinct().Count());
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir.FullName, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
