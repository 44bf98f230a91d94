using System.Net;
using Kindling.Testing;
using Kindling.Vmm.Api;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Api;

/// <summary>PUT /snapshot/create and PUT /snapshot/load: Firecracker's bodies, states and messages.</summary>
public sealed class SnapshotApiTests
{
    private const string Create = """{ "snapshot_type": "Full", "snapshot_path": "/s/vm.state", "mem_file_path": "/s/vm.mem" }""";
    private const string Load = """{ "snapshot_path": "/s/vm.state", "mem_backend": { "backend_type": "File", "backend_path": "/s/vm.mem" }, "resume_vm": true }""";

    private static (VmmController Controller, FakeVmmBackend Backend) NewController()
    {
        var backend = new FakeVmmBackend { AcceptUnsupported = true };
        return (new VmmController(backend, new MmdsDataStore(new FakeTimeProvider()), "vm"), backend);
    }

    private static VmmAction Parse(string path, string body)
    {
        ApiParseResult result = ApiRequestParser.Parse("PUT", path, body);
        return result.Action ?? throw new InvalidOperationException(result.FaultMessage);
    }

    private static string ParseFault(string path, string body) =>
        ApiRequestParser.Parse("PUT", path, body).FaultMessage ?? throw new InvalidOperationException("parsed");

    private static void Boot(VmmController controller)
    {
        Assert.True(controller.Handle(new ConfigureBootSource(new BootSourceConfig { KernelImagePath = "/k" })).IsSuccess);
        Assert.True(controller.Handle(new StartMicroVm()).IsSuccess);
    }

    [Fact]
    public void ParseCreate_FirecrackerBody_GivesPaths()
    {
        var action = Assert.IsType<CreateSnapshot>(Parse("/snapshot/create", Create));

        Assert.Equal(new SnapshotCreateRequest("/s/vm.state", "/s/vm.mem"), action.Request);
        Assert.IsType<CreateSnapshot>(Parse("/snapshot/create", """{ "snapshot_path": "a", "mem_file_path": "b" }""")); // Full is the default
    }

    [Theory]
    [InlineData("""{ "snapshot_type": "Diff", "snapshot_path": "a", "mem_file_path": "b" }""", "use \"Full\"")]
    [InlineData("""{ "snapshot_type": "Half", "snapshot_path": "a", "mem_file_path": "b" }""", "is unknown")]
    [InlineData("""{ "snapshot_path": "", "mem_file_path": "b" }""", "snapshot_path is empty")]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "a" }""", "the same file")]
    [InlineData("""{ "snapshot_path": "a" }""", "mem_file_path")]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "b", "version": "1.0" }""", "version")]
    public void ParseCreate_BadBody_FaultNamesTheField(string body, string expected) =>
        Assert.Contains(expected, ParseFault("/snapshot/create", body), StringComparison.Ordinal);

    [Fact]
    public void ParseLoad_MemBackendAndOverrides_Normalised()
    {
        var action = Assert.IsType<LoadSnapshot>(Parse("/snapshot/load",
            """{ "snapshot_path": "a", "mem_backend": { "backend_type": "File", "backend_path": "m" }, "network_overrides": [ { "iface_id": "eth0", "host_dev_name": "tap7" } ] }"""));

        Assert.Equal("m", action.Request.MemFilePath);
        Assert.False(action.Request.ResumeVm);
        Assert.Equal("tap7", action.Request.NetworkOverrides["eth0"]);
    }

    [Fact]
    public void ParseLoad_DeprecatedMemFilePath_StillAccepted()
    {
        var action = Assert.IsType<LoadSnapshot>(Parse("/snapshot/load", """{ "snapshot_path": "a", "mem_file_path": "m", "resume_vm": true }"""));

        Assert.Equal("m", action.Request.MemFilePath);
        Assert.True(action.Request.ResumeVm);
    }

    [Theory]
    [InlineData("""{ "snapshot_path": "a" }""", SnapshotRequestParser.MissingField)]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "m", "mem_backend": { "backend_type": "File", "backend_path": "m" } }""", SnapshotRequestParser.TooManyFields)]
    [InlineData("""{ "snapshot_path": "a", "mem_backend": { "backend_type": "Uffd", "backend_path": "/uffd.sock" } }""", "\"Uffd\" is not supported")]
    [InlineData("""{ "snapshot_path": "a", "mem_backend": { "backend_path": "m" } }""", "backend_type")]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "m", "enable_diff_snapshots": true }""", "enable_diff_snapshots")]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "m", "network_overrides": [ { "iface_id": "eth0", "host_dev_name": "" } ] }""", "network_overrides[0].host_dev_name")]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "m", "network_overrides": [ { "iface_id": "bad id", "host_dev_name": "t" } ] }""", "network_overrides[0].iface_id")]
    [InlineData("""{ "snapshot_path": "a", "mem_file_path": "m", "network_overrides": [ { "iface_id": "e", "host_dev_name": "t" }, { "iface_id": "e", "host_dev_name": "u" } ] }""", "overridden twice")]
    public void ParseLoad_BadBody_FirecrackersFault(string body, string expected) =>
        Assert.Contains(expected, ParseFault("/snapshot/load", body), StringComparison.Ordinal);

    [Fact]
    public void CreateSnapshot_BeforeStart_Refused()
    {
        (VmmController controller, FakeVmmBackend backend) = NewController();

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/create", Create));

        Assert.Equal("The requested operation on snapshot/create is not supported before starting the microVM.", outcome.FaultMessage);
        Assert.DoesNotContain("CreateSnapshot", backend.Calls);
    }

    [Fact]
    public void CreateSnapshot_WhileRunning_RefusedSayingPauseFirst()
    {
        (VmmController controller, FakeVmmBackend backend) = NewController();
        Boot(controller);

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/create", Create));

        Assert.Contains("pause it first", outcome.FaultMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("CreateSnapshot", backend.Calls);
    }

    [Fact]
    public void CreateSnapshot_WhilePaused_BackendWritesItAndVmStaysPaused()
    {
        (VmmController controller, FakeVmmBackend backend) = NewController();
        Boot(controller);
        Assert.True(controller.Handle(new Pause()).IsSuccess);

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/create", Create));

        Assert.True(outcome.IsSuccess, outcome.FaultMessage);
        Assert.Contains("CreateSnapshot", backend.Calls);
        Assert.Equal(VmmState.Paused, controller.State);
    }

    [Fact]
    public void LoadSnapshot_FreshVmm_StateFollowsResumeVmAndConfigIsTheRestoredOne()
    {
        (VmmController controller, FakeVmmBackend backend) = NewController();
        backend.LoadedConfig = new VmConfig { MachineConfig = new MachineConfig { VcpuCount = 2, MemSizeMib = 256 } };

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/load", Load));

        Assert.True(outcome.IsSuccess, outcome.FaultMessage);
        Assert.Equal(VmmState.Running, controller.State);
        Assert.Equal(2, controller.EffectiveConfig.MachineConfig!.VcpuCount);
        Assert.Equal("/s/vm.mem", backend.LoadedWith!.MemFilePath);
        Assert.Contains("The requested operation on boot-source is not supported after starting",
            controller.Handle(new ConfigureBootSource(new BootSourceConfig { KernelImagePath = "/k" })).FaultMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadSnapshot_WithoutResume_Paused()
    {
        (VmmController controller, _) = NewController();

        Assert.True(controller.Handle(Parse("/snapshot/load", """{ "snapshot_path": "a", "mem_file_path": "m" }""")).IsSuccess);

        Assert.Equal(VmmState.Paused, controller.State);
    }

    [Fact]
    public void LoadSnapshot_AfterBootSpecificResource_RefusedWithFirecrackersMessage()
    {
        (VmmController controller, FakeVmmBackend backend) = NewController();
        Assert.True(controller.Handle(new PutMachineConfig(new MachineConfig { VcpuCount = 1, MemSizeMib = 128 })).IsSuccess);

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/load", Load));

        Assert.Equal(VmmController.LoadAfterBootResources, outcome.FaultMessage);
        Assert.Null(backend.LoadedWith);
        Assert.Equal(VmmState.NotStarted, controller.State);
    }

    [Fact]
    public void LoadSnapshot_AfterStart_Refused()
    {
        (VmmController controller, FakeVmmBackend backend) = NewController();
        Boot(controller);

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/load", Load));

        Assert.Contains("not supported after starting the microVM", outcome.FaultMessage, StringComparison.Ordinal);
        Assert.Null(backend.LoadedWith);
    }

    [Fact]
    public void LoadSnapshot_BackendRefuses_VmmStaysNotStarted()
    {
        var backend = new FakeVmmBackend();
        var controller = new VmmController(backend, new MmdsDataStore(new FakeTimeProvider()), "vm");

        VmmOutcome outcome = controller.Handle(Parse("/snapshot/load", Load));

        Assert.False(outcome.IsSuccess);
        Assert.Equal(VmmState.NotStarted, controller.State);
    }

    [Fact]
    public async Task SnapshotLoad_OverHttpAfterStart_Answers400WithFaultMessage()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        host.Backend.AcceptUnsupported = true;
        await host.OkAsync("PUT", "/boot-source", """{ "kernel_image_path": "k" }""");
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        (HttpStatusCode status, string body) = await host.SendAsync("PUT", "/snapshot/load", Load);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("\"fault_message\"", body, StringComparison.Ordinal);
        Assert.Contains("snapshot/load is not supported after starting", body, StringComparison.Ordinal);
    }
}
