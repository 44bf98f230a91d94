using Kindling.Vmm.Snapshot;

namespace Kindling.Vmm.Tests.Snapshot;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("katomic").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Write_Succeeds_RenamesIntoPlaceAndReturnsTheWritersResult()
    {
        string path = PathOf("vm.mem");

        int result = AtomicFile.Write(path, "mem_file_path", s =>
        {
            s.Write([1, 2, 3]);
            return 7;
        });

        Assert.Equal(7, result);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal(["vm.mem"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Write_WriterFails_KeepsThePreviousFileAndLeavesNoTemporary()
    {
        string path = PathOf("vm.state");
        File.WriteAllBytes(path, [9]);

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write<int>(path, "snapshot_path", s =>
        {
            s.Write([1, 2, 3]);
            throw new InvalidOperationException("the VM must be paused");
        }));

        Assert.Equal([9], File.ReadAllBytes(path));
        Assert.Equal(["vm.state"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Write_DirectoryMissing_SnapshotErrorNamingTheField()
    {
        string path = Path.Combine(_dir, "missing", "vm.mem");

        SnapshotException e = Assert.Throws<SnapshotException>(() => AtomicFile.Write(path, "mem_file_path", _ => 0));

        Assert.StartsWith($"mem_file_path {path} cannot be written", e.Message, StringComparison.Ordinal);
    }
}
