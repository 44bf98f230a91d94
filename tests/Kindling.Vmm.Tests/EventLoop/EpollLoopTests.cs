using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Rng;
using Kindling.Vmm.EventLoop;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.EventLoop;

public sealed class EpollLoopTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void Register_EventFdSignalled_CallbackRunsOnLoopThread()
    {
        using var loop = new EpollLoop();
        using EventFdHandle fd = EventFdHandle.Create();
        using var fired = new ManualResetEventSlim();
        bool onLoop = false;
        using EventRegistration reg = loop.Register(fd, Epoll.EPOLLIN, _ =>
        {
            fd.Drain();
            onLoop = loop.IsLoopThread;
            fired.Set();
        });
        fd.Signal();
        Assert.True(fired.Wait(Timeout, TestContext.Current.CancellationToken));
        Assert.True(onLoop);
    }

    [Fact]
    public void Post_ThrowingCallback_LoopKeepsRunning()
    {
        using var loop = new EpollLoop();
        loop.Post(() => throw new InvalidOperationException("boom"));
        Assert.Equal(42, loop.InvokeValue(() => 42));
    }

    [Fact]
    public void CreateTimer_FiresOnLoopThread()
    {
        var time = new FakeTimeProvider();
        using var loop = new EpollLoop(time);
        using var fired = new ManualResetEventSlim();
        bool onLoop = false;
        using ITimer timer = loop.CreateTimer(() =>
        {
            onLoop = loop.IsLoopThread;
            fired.Set();
        }, TimeSpan.FromMilliseconds(100), System.Threading.Timeout.InfiniteTimeSpan);
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(fired.Wait(Timeout, TestContext.Current.CancellationToken));
        Assert.True(onLoop);
    }

    [Fact]
    public void Dispose_Twice_StopsTheLoopThreadOnce()
    {
        var loop = new EpollLoop();
        Thread? thread = null;
        using var ran = new ManualResetEventSlim();
        loop.Post(() =>
        {
            thread = Thread.CurrentThread;
            ran.Set();
        });
        Assert.True(ran.Wait(Timeout, TestContext.Current.CancellationToken));
        Assert.True(thread!.IsAlive);

        loop.Dispose();
        Assert.False(thread.IsAlive, "the loop thread still runs after Dispose");
        loop.Dispose(); // idempotent: no second stop, no exception
    }

    [Fact]
    public void QueueNotifyBinding_EventFdWrite_ProcessesQueueOnLoop()
    {
        using var loop = new EpollLoop();
        var memory = new FakeGuestMemory(0x100000);
        var interrupt = new CountingInterrupt();
        var transport = new MmioTransport(new VirtioRng(), memory, interrupt);
        using var binding = new QueueNotifyBinding(loop, transport, 0xd000_0000);
        var q = new VirtQueueBuilder(memory, new GuestAddress(0x1000), 16, new GuestAddress(0x10000), 0x10000);
        new VirtioMmioDriver(transport).Initialize(ulong.MaxValue, q);

        Assert.Equal(0xd000_0050UL, binding.Registrations[0].Address);
        q.Push(DriverBuffer.DeviceWrites(q.Alloc(32), 32));
        binding.EventFd(0).Signal(); // what KVM does on the guest's QueueNotify write
        // The loop thread publishes the used entry, then raises the interrupt: wait for both.
        Assert.True(SpinWait.SpinUntil(() => q.UsedIdx == 1 && interrupt.Count > 0, Timeout));
        Assert.Equal(1, interrupt.Count);
    }

    [Fact]
    public void Transport_BusNotifyWithSink_GoesThroughLoop()
    {
        using var loop = new EpollLoop();
        var memory = new FakeGuestMemory(0x100000);
        QueueNotifyBinding? binding = null;
        var transport = new MmioTransport(new VirtioRng(), memory, new CountingInterrupt(), i => binding!.Notify(i));
        binding = new QueueNotifyBinding(loop, transport, 0);
        var q = new VirtQueueBuilder(memory, new GuestAddress(0x1000), 16, new GuestAddress(0x10000), 0x10000);
        var driver = new VirtioMmioDriver(transport);
        driver.Initialize(ulong.MaxValue, q);
        q.Push(DriverBuffer.DeviceWrites(q.Alloc(32), 32));
        driver.Notify(0);
        Assert.True(SpinWait.SpinUntil(() => q.UsedIdx == 1, Timeout));
        binding.Dispose();
    }
}
