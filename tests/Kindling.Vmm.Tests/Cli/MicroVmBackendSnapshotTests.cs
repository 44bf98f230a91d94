using Kindling.Vmm.Api;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Snapshot;
using Kindling.Vmm.Tests.Snapshot;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>What the real backend refuses of a snapshot load before it touches KVM (no /dev/kvm needed).</summary>
public sealed class MicroVmBackendSnapshotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-backend-snap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static MicroVmBackend NewBackend() =>
        new(NullLoggerFactory.Instance, TimeProvider.System, "snap-test", () => new Kindling.Vmm.Machine.StreamSerialOutput(Stream.Null));

    private string WriteState(byte[] file)
    {
        string path = Path.Combine(_dir, "vm.state");
        File.WriteAllBytes(path, file);
        return path;
    }

    private static VmmActionException Load(string statePath, IReadOnlyDictionary<string, string>? overrides = null)
    {
        using MicroVmBackend backend = NewBackend();
        var request = new SnapshotLoadRequest(statePath, statePath + ".mem", ResumeVm: false, overrides ?? new Dictionary<string, string>());
        return Assert.Throws<VmmActionException>(() => backend.LoadSnapshot(request, new VmConfig(), new MmdsDataStore(TimeProvider.System)));
    }

    [Fact]
    public void LoadSnapshot_TruncatedStateFile_RefusedNamingTheFile()
    {
        string path = WriteState(SnapshotTestStates.SampleFile()[..100]);

        VmmActionException e = Load(path);

        Assert.StartsWith("snapshot/load: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadSnapshot_SnapshotOfAnotherCpuTemplate_Refused()
    {
        string path = WriteState(SnapshotFile.Encode(HostCpu.Origin("Minimal"), MicroVmStateCodec.Encode(SnapshotTestStates.Sample())));

        VmmActionException e = Load(path);

        Assert.Contains("CPU template Minimal", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadSnapshot_OverrideOfAnInterfaceTheSnapshotLacks_Refused()
    {
        string path = WriteState(SnapshotFile.Encode(HostCpu.Origin("None"), MicroVmStateCodec.Encode(SnapshotTestStates.Sample())));

        VmmActionException e = Load(path, new Dictionary<string, string> { ["eth0"] = "tap9" });

        Assert.Contains("network_overrides: the snapshot has no interface \"eth0\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSnapshot_NotStarted_Refused()
    {
        using MicroVmBackend backend = NewBackend();

        VmmActionException e = Assert.Throws<VmmActionException>(() =>
            backend.CreateSnapshot(new SnapshotCreateRequest(Path.Combine(_dir, "s"), Path.Combine(_dir, "m")), new VmConfig()));

        Assert.Equal("snapshot/create needs a started, paused microVM", e.Message);
    }
}
