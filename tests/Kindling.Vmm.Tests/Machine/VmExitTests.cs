using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class VmExitTests
{
    [Theory]
    [InlineData(VmExitReason.GuestReset, 0)]
    [InlineData(VmExitReason.Halted, 0)]
    [InlineData(VmExitReason.Stopped, 0)]
    [InlineData(VmExitReason.Error, 1)]
    public void ExitCode_ByReason_IsZeroOnlyForCleanStops(VmExitReason reason, int code)
    {
        Assert.Equal(code, new VmExit(reason).ExitCode);
    }
}
