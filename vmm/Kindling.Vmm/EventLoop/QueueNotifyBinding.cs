using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Interop;

namespace Kindling.Vmm.EventLoop;

/// <summary>
/// Binds a transport's queue notifications to the event loop: one eventfd per queue, which the VM registers with
/// KVM as an ioeventfd (address + datamatch from <see cref="Registrations"/>), so a guest QueueNotify write never
/// reaches the vCPU thread; the loop drains the eventfd and calls <see cref="MmioTransport.OnQueueNotified"/>.
/// <see cref="Notify"/> is the bus-path fallback (signals the same eventfd).
/// </summary>
public sealed class QueueNotifyBinding : IDisposable
{
    private readonly EventFdHandle[] _eventFds;
    private readonly EventRegistration[] _registrations;

    public QueueNotifyBinding(EpollLoop loop, MmioTransport transport, ulong mmioBase)
    {
        Registrations = transport.NotifyRegistrations(mmioBase);
        _eventFds = new EventFdHandle[Registrations.Count];
        _registrations = new EventRegistration[Registrations.Count];
        for (int i = 0; i < _eventFds.Length; i++)
        {
            int queue = i;
            EventFdHandle fd = EventFdHandle.Create();
            _eventFds[i] = fd;
            _registrations[i] = loop.Register(fd, Epoll.EPOLLIN, _ =>
            {
                if (fd.Drain() != 0)
                {
                    transport.OnQueueNotified(queue);
                }
            });
        }
    }

    public IReadOnlyList<QueueNotifyRegistration> Registrations { get; }

    /// <summary>The eventfd of queue <paramref name="queueIndex"/> (for KVM_IOEVENTFD).</summary>
    public EventFdHandle EventFd(int queueIndex) => _eventFds[queueIndex];

    /// <summary>A QueueNotify that came over the bus: hand it to the loop like an ioeventfd would.</summary>
    public void Notify(int queueIndex)
    {
        if ((uint)queueIndex < (uint)_eventFds.Length)
        {
            _eventFds[queueIndex].Signal();
        }
    }

    public void Dispose()
    {
        foreach (EventRegistration r in _registrations)
        {
            r.Dispose();
        }

        foreach (EventFdHandle fd in _eventFds)
        {
            fd.Dispose();
        }
    }
}
