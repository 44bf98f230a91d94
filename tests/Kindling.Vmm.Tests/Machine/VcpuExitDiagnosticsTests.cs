using Kindling.Vmm.Kvm;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class VcpuExitDiagnosticsTests
{
    [Fact]
    public void Describe_EmulationFailure_NamesSuberrorRipAndHexBytes()
    {
        var exit = new VcpuExit { Kind = VcpuExitKind.InternalError, Code = KvmExitReason.InternalErrorEmulation };

        string message = VcpuExitDiagnostics.Describe(0, exit, 0xffffffff81000123, [0xf0, 0x48, 0x0f, 0xc7, 0x0e]);

        Assert.Equal(
            "vCPU 0: KVM internal error, suberror 1 (emulation failure) at RIP 0xffffffff81000123, instruction bytes f0480fc70e: the host KVM cannot emulate this guest instruction",
            message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Describe_EmulationFailureWithoutBytes_SaysSo()
    {
        var exit = new VcpuExit { Kind = VcpuExitKind.InternalError, Code = KvmExitReason.InternalErrorEmulation };

        Assert.Contains("instruction bytes unavailable", VcpuExitDiagnostics.Describe(1, exit, null, null), StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_Shutdown_SaysTripleFault()
    {
        string message = VcpuExitDiagnostics.Describe(2, new VcpuExit { Kind = VcpuExitKind.Shutdown }, 0x1000, null);

        Assert.Equal("vCPU 2: guest triple fault (KVM_EXIT_SHUTDOWN) at RIP 0x1000", message);
    }

    [Theory]
    [InlineData(KvmExitReason.SystemEventShutdown, "shutdown")]
    [InlineData(KvmExitReason.SystemEventReset, "reset")]
    [InlineData(KvmExitReason.SystemEventCrash, "crash")]
    [InlineData(77u, "type 77")]
    public void Describe_SystemEvent_NamesTheType(uint type, string name)
    {
        string message = VcpuExitDiagnostics.Describe(0, new VcpuExit { Kind = VcpuExitKind.SystemEvent, Code = type }, null, null);

        Assert.Equal($"vCPU 0: guest system event {name} (KVM_EXIT_SYSTEM_EVENT)", message);
    }

    [Fact]
    public void Describe_FailEntry_GivesHardwareReason()
    {
        var exit = new VcpuExit { Kind = VcpuExitKind.FailEntry, HardwareReason = 0x80000021 };

        Assert.Contains("hardware reason 0x80000021", VcpuExitDiagnostics.Describe(0, exit, null, null), StringComparison.Ordinal);
    }
}
