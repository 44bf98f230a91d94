using System.Runtime.InteropServices;

namespace Kindling.Vmm.Devices;

/// <summary>
/// The event loop a device runs its work on (Firecracker's event manager): file-descriptor readiness callbacks and
/// posted work, all on one thread. <c>EventLoop.EpollLoop</c> is the real one; devices know only this, so a test can
/// drive a device without an epoll thread.
/// </summary>
public interface IEventLoop
{
    /// <summary>The clock of the loop's timers.</summary>
    TimeProvider Time { get; }

    /// <summary>True on the loop's own thread.</summary>
    bool IsLoopThread { get; }

    /// <summary>Runs <paramref name="work"/> on the loop thread soon.</summary>
    void Post(Action work);

    /// <summary>
    /// Watches <paramref name="fd"/> for <paramref name="events"/> (EPOLLIN, EPOLLOUT, optionally EPOLLET) and runs
    /// <paramref name="callback"/> with the ready events on the loop thread; disposing the result stops it.
    /// </summary>
    IEventRegistration Register(SafeHandle fd, uint events, Action<uint> callback);

    /// <summary>Changes the events watched for a registration of this loop.</summary>
    void Modify(IEventRegistration registration, uint events);
}

/// <summary>A registration on an <see cref="IEventLoop"/>; disposing removes it.</summary>
public interface IEventRegistration : IDisposable;
