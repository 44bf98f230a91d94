using Kindling.Vmm.Kvm;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

/// <summary>
/// The vCPU run loop against <see cref="ScriptedVcpu"/>, which keeps KVM_RUN's completion rules: pause, resume and
/// stop without /dev/kvm. Real threads and the real kick signal (harmless outside KVM_RUN); waits are generous.
/// </summary>
public sealed class VcpuRunLoopTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private const ushort Port = 0x60;
    private const byte InValue = 0x42;

    [Fact]
    public async Task Pause_RequestedDuringIoInExit_ParksOnlyAfterReentryReturnsIntr()
    {
        var vcpu = new ScriptedVcpu();
        vcpu.Enqueue(ScriptedExit.IoIn(Port, 1));
        VcpuRunLoop<ScriptedVcpu>? loop = null;
        loop = new VcpuRunLoop<ScriptedVcpu>((v, exit) =>
        {
            if (exit.Kind == VcpuExitKind.IoIn)
            {
                // The API thread's PATCH /vm Paused lands while this exit is being handled.
                loop!.RequestPause();
                v.ExitData[0] = InValue;
            }

            return true;
        });

        loop.Launch([vcpu], paused: false);
        loop.WaitUntilParked(Generous);

        Assert.True(loop.AllParked);
        Assert.False(vcpu.HasPendingIo);
        Assert.Equal(["exit IoIn", "completed IoIn", "intr"], vcpu.Events);
        Assert.Equal([InValue], Assert.Single(vcpu.Delivered));
        await StopAsync(loop);
    }

    [Fact]
    public async Task Pause_DuringSplitMmioRead_CompletesEveryFragmentBeforeParking()
    {
        var vcpu = new ScriptedVcpu();
        vcpu.Enqueue(ScriptedExit.MmioRead(0xd000_0000, 8), ScriptedExit.MmioRead(0xd000_0008, 8, continuation: true));
        VcpuRunLoop<ScriptedVcpu>? loop = null;
        int reads = 0;
        loop = new VcpuRunLoop<ScriptedVcpu>((v, exit) =>
        {
            if (exit.Kind == VcpuExitKind.MmioRead)
            {
                loop!.RequestPause();
                v.ExitData.Fill((byte)++reads);
            }

            return true;
        });

        loop.Launch([vcpu], paused: false);
        loop.WaitUntilParked(Generous);

        Assert.Equal(["exit MmioRead", "completed MmioRead", "exit MmioRead", "completed MmioRead", "intr"], vcpu.Events);
        Assert.Equal([1, 2], vcpu.Delivered.Select(d => (int)d[0]));
        await StopAsync(loop);
    }

    [Fact]
    public async Task Pause_WhileInGuest_KicksTheVcpuOutAndParksIt()
    {
        var vcpu = new ScriptedVcpu();
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, _) => true);
        loop.Launch([vcpu], paused: false);
        Assert.True(vcpu.InGuest.Wait(Generous, TestContext.Current.CancellationToken));

        loop.Pause(Generous);

        Assert.True(loop.AllParked);
        Assert.True(loop.IsPaused);
        Assert.Equal(["intr"], vcpu.Events);
        await StopAsync(loop);
    }

    [Fact]
    public async Task Resume_AfterPause_ClearsImmediateExitAndRunsTheNextExit()
    {
        var vcpu = new ScriptedVcpu();
        var handled = new List<VcpuExitKind>();
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, exit) =>
        {
            handled.Add(exit.Kind);
            return exit.Kind != VcpuExitKind.Hlt;
        });
        loop.Launch([vcpu], paused: false);
        loop.Pause(Generous);
        vcpu.Enqueue(ScriptedExit.IoOut(Port, 1), ScriptedExit.Hlt());

        loop.Resume();
        await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);

        Assert.False(loop.IsPaused);
        Assert.Equal(["intr", "exit IoOut", "completed IoOut", "exit Hlt"], vcpu.Events);
        Assert.Equal([VcpuExitKind.Intr, VcpuExitKind.IoOut, VcpuExitKind.Hlt], handled);
    }

    [Fact]
    public async Task Resume_BeforeTheVcpuParked_LeavesItRunningNotSpinning()
    {
        var vcpu = new ScriptedVcpu();
        vcpu.Enqueue(ScriptedExit.IoOut(Port, 1), ScriptedExit.Hlt());
        VcpuRunLoop<ScriptedVcpu>? loop = null;
        loop = new VcpuRunLoop<ScriptedVcpu>((_, exit) =>
        {
            if (exit.Kind == VcpuExitKind.IoOut)
            {
                // Paused and resumed again while this exit is handled: immediate_exit is still set on the next entry.
                loop!.RequestPause();
                loop.Resume();
            }

            return exit.Kind != VcpuExitKind.Hlt;
        });

        loop.Launch([vcpu], paused: false);
        await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);

        Assert.Equal(["exit IoOut", "completed IoOut", "intr", "exit Hlt"], vcpu.Events);
        Assert.Equal(3, vcpu.Runs);
    }

    [Fact]
    public async Task Launch_Paused_EntersKvmRunOnceWithImmediateExitBeforeParking()
    {
        var vcpus = new[] { new ScriptedVcpu(0), new ScriptedVcpu(1) };
        foreach (ScriptedVcpu vcpu in vcpus)
        {
            vcpu.Enqueue(ScriptedExit.Hlt());
        }

        var loop = new VcpuRunLoop<ScriptedVcpu>((_, exit) => exit.Kind != VcpuExitKind.Hlt);

        loop.Launch(vcpus, paused: true);
        loop.WaitUntilParked(Generous);

        Assert.True(loop.AllParked);
        Assert.All(vcpus, v => Assert.Equal(["intr"], v.Events));
        Assert.All(vcpus, v => Assert.Equal(1, v.Runs));

        loop.Resume();
        VmExit exit = await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);

        Assert.All(vcpus, v => Assert.Equal(["intr", "exit Hlt"], v.Events));
        Assert.Equal(VmExitReason.Stopped, exit.Reason);
    }

    [Fact]
    public async Task Stop_WhileInGuest_CompletesWithTheFirstReason()
    {
        var vcpu = new ScriptedVcpu();
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, _) => true);
        loop.Launch([vcpu], paused: false);
        Assert.True(vcpu.InGuest.Wait(Generous, TestContext.Current.CancellationToken));

        Assert.True(loop.Stop(new VmExit(VmExitReason.GuestReset)));
        Assert.False(loop.Stop(new VmExit(VmExitReason.Stopped)));
        VmExit exit = await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);

        Assert.Equal(VmExitReason.GuestReset, exit.Reason);
        Assert.True(vcpu.ImmediateExit);
    }

    [Fact]
    public async Task Stop_WhilePaused_EndsTheParkedThreads()
    {
        var vcpus = new[] { new ScriptedVcpu(0), new ScriptedVcpu(1) };
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, _) => true);
        loop.Launch(vcpus, paused: false);
        loop.Pause(Generous);

        loop.Stop(new VmExit(VmExitReason.Stopped));
        VmExit exit = await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);

        Assert.Equal(VmExitReason.Stopped, exit.Reason);
        loop.Join();
    }

    [Fact]
    public async Task Stop_BeforeLaunch_CompletesAtOnce()
    {
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, _) => true);

        loop.Stop(new VmExit(VmExitReason.Stopped));

        Assert.Equal(VmExitReason.Stopped, (await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken)).Reason);
    }

    [Fact]
    public async Task Run_HandlerThrows_StopsWithTheVcpusError()
    {
        var vcpu = new ScriptedVcpu(3);
        vcpu.Enqueue(ScriptedExit.IoOut(Port, 1));
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, _) => throw new InvalidOperationException("device fault"));

        loop.Launch([vcpu], paused: false);
        VmExit exit = await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);

        Assert.Equal(VmExitReason.Error, exit.Reason);
        Assert.Equal("vCPU 3: device fault", exit.Message);
    }

    [Fact]
    public async Task Launch_TwoVcpus_CallsTheFirstRunHookOnceBeforeItsThreadsFirstKvmRun()
    {
        var vcpus = new[] { new ScriptedVcpu(0), new ScriptedVcpu(1) };
        int calls = 0;
        int runsAtHook = -1;
        var loop = new VcpuRunLoop<ScriptedVcpu>((_, _) => true, onFirstRun: () =>
        {
            Interlocked.Increment(ref calls);
            runsAtHook = vcpus[Thread.CurrentThread.Name == "vcpu0" ? 0 : 1].Runs;
        });

        loop.Launch(vcpus, paused: true);
        loop.WaitUntilParked(Generous);

        Assert.Equal(1, calls);
        Assert.Equal(0, runsAtHook);
        await StopAsync(loop);
    }

    [Fact]
    public void WaitUntilParked_VcpuNeverLeavesTheGuest_TimesOut()
    {
        // A vCPU that ignores immediate_exit (a wedged KVM_RUN) must not hang the pause.
        var wedged = new WedgedVcpu();
        var loop = new VcpuRunLoop<WedgedVcpu>((_, _) => true);
        loop.Launch([wedged], paused: false);
        Assert.True(wedged.Entered.Wait(Generous, TestContext.Current.CancellationToken));

        Assert.Throws<TimeoutException>(() => loop.Pause(TimeSpan.FromMilliseconds(100)));

        wedged.Release.Set();
        loop.Stop(new VmExit(VmExitReason.Stopped));
        loop.Join();
    }

    private static async Task StopAsync<T>(VcpuRunLoop<T> loop)
        where T : class, IVcpuRun
    {
        loop.Stop(new VmExit(VmExitReason.Stopped));
        await loop.Completion.WaitAsync(Generous, TestContext.Current.CancellationToken);
        loop.Join();
    }

    /// <summary>A KVM_RUN that stays in the guest until the test releases it, whatever immediate_exit says.</summary>
    private sealed class WedgedVcpu : IVcpuRun
    {
        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public int Id => 0;

        public Span<byte> ExitData => [];

        public VcpuExit Run()
        {
            Entered.Set();
            Release.Wait();
            return VcpuExit.Interrupted;
        }

        public void RequestImmediateExit(bool value)
        {
        }
    }
}
