using Kindling.Vmm.Interop;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

// SAFETY: pointer tests over memory the test allocates and keeps alive for the whole test (stack locals, pinned arrays, the mapping under test).
public sealed unsafe class VcpuKickerTests
{
    [Fact]
    public void Signal_IsAboveSigRtMinAndBelowSigRtMax()
    {
        int signal = VcpuKicker.Signal;

        Assert.Equal(LibcSignals.CurrentSigRtMin() + VcpuKicker.SignalOffset, signal);
        Assert.True(signal <= LibcSignals.CurrentSigRtMax());
    }

    [Fact]
    public void EnsureInstalled_InstallsAHandlerWithoutSaRestart()
    {
        VcpuKicker.EnsureInstalled();
        LibcSignals.SigAction current = default;

        Assert.Equal(0, LibcSignals.SignalAction(VcpuKicker.Signal, null, &current));

        Assert.NotEqual(0, current.Handler); // not SIG_DFL (0), which would terminate the process
        Assert.NotEqual(1, current.Handler); // not SIG_IGN, which would not interrupt KVM_RUN
        Assert.Equal(0, current.Flags & 0x10000000); // SA_RESTART
    }

    [Fact]
    public void Kick_AThreadOutsideKvm_IsHarmless()
    {
        // A real-time signal's default action kills the process: this test only finishes if the handler is in place.
        nuint self = VcpuKicker.CurrentThread();

        VcpuKicker.Kick(self);
        VcpuKicker.Kick(self);

        Assert.Equal(self, VcpuKicker.CurrentThread());
    }
}
