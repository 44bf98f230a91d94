using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Kindling.Vmm.Devices;
using Kindling.Vmm.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.EventLoop;

/// <summary>
/// The device event loop: one thread waiting in epoll on registered file descriptors (ioeventfds, the TAP,
/// sockets) and running their callbacks; other threads hand it work with <see cref="Post"/>, and timers
/// (rate-limiter replenish) fire onto it through <see cref="CreateTimer"/>. A callback that throws is logged and
/// the loop goes on. <see cref="Dispose"/> stops the thread and waits for it.
/// </summary>
public sealed partial class EpollLoop : IEventLoop, IDisposable
{
    private const int MaxEvents = 64;
    private const ulong WakeToken = 0;

    private readonly FileDescriptor _epoll;
    private readonly EventFdHandle _wake;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly ConcurrentDictionary<ulong, Registration> _registrations = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private long _nextToken;
    private volatile bool _stopping;
    private int _threadId;

    public EpollLoop(TimeProvider? time = null, ILogger? logger = null, string name = "kindling-devices")
    {
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _epoll = Epoll.Create();
        _wake = EventFdHandle.Create();
        Epoll.Control(_epoll, Epoll.EPOLL_CTL_ADD, _wake, Epoll.EPOLLIN, WakeToken);
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>True on the loop's own thread.</summary>
    public bool IsLoopThread => Environment.CurrentManagedThreadId == Volatile.Read(ref _threadId);

    /// <summary>
    /// Watches <paramref name="fd"/> for <paramref name="events"/> (EPOLLIN, EPOLLOUT, optionally EPOLLET) and runs
    /// <paramref name="callback"/> with the ready events on the loop thread. The handle must outlive the registration.
    /// </summary>
    public EventRegistration Register(SafeHandle fd, uint events, Action<uint> callback)
    {
        ulong token = (ulong)Interlocked.Increment(ref _nextToken);
        var registration = new Registration(fd, callback);
        _registrations[token] = registration;
        Epoll.Control(_epoll, Epoll.EPOLL_CTL_ADD, fd, events, token);
        return new EventRegistration(this, token);
    }

    IEventRegistration IEventLoop.Register(SafeHandle fd, uint events, Action<uint> callback) => Register(fd, events, callback);

    void IEventLoop.Modify(IEventRegistration registration, uint events) =>
        Modify(registration as EventRegistration ?? throw new ArgumentException("not a registration of this loop", nameof(registration)), events);

    /// <summary>Changes the events watched for a registration.</summary>
    public void Modify(EventRegistration registration, uint events)
    {
        if (_registrations.TryGetValue(registration.Token, out Registration? r) && !r.Handle.IsClosed)
        {
            Epoll.Control(_epoll, Epoll.EPOLL_CTL_MOD, r.Handle, events, registration.Token);
        }
    }

    internal void Unregister(ulong token)
    {
        if (_registrations.TryRemove(token, out Registration? r) && !r.Handle.IsClosed && !_epoll.IsClosed)
        {
            try
            {
                Epoll.Control(_epoll, Epoll.EPOLL_CTL_DEL, r.Handle, 0, 0);
            }
            catch (Exception e) when (e is SyscallException or ObjectDisposedException)
            {
                // Already gone from the epoll set (fd closed, or closing now): nothing to undo.
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread soon.</summary>
    public void Post(Action work)
    {
        _posted.Enqueue(work);
        if (!_wake.IsClosed)
        {
            _wake.Signal();
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread and waits for it (inline when already there).</summary>
    public void Invoke(Action work)
    {
        if (IsLoopThread)
        {
            work();
            return;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                work();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        done.Task.GetAwaiter().GetResult();
    }

    /// <summary>Computes a value on the loop thread and returns it.</summary>
    public T InvokeValue<T>(Func<T> work)
    {
        T result = default!;
        Invoke(() => result = work());
        return result;
    }

    /// <summary>A one-shot/periodic timer whose callback runs on the loop thread.</summary>
    /// <summary>The clock of this loop's timers.</summary>
    public TimeProvider Time => _time;

    public ITimer CreateTimer(Action callback, TimeSpan dueTime, TimeSpan period) =>
        _time.CreateTimer(_ => Post(callback), null, dueTime, period);

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _wake.Signal();
        if (!IsLoopThread)
        {
            _thread.Join();
        }

        _registrations.Clear();
        _epoll.Dispose();
        _wake.Dispose();
    }

    private void Run()
    {
        Volatile.Write(ref _threadId, Environment.CurrentManagedThreadId);
        Span<EpollEvent> events = stackalloc EpollEvent[MaxEvents];
        while (!_stopping)
        {
            int n = Epoll.Wait(_epoll, events, -1);
            for (int i = 0; i < n && !_stopping; i++)
            {
                ulong token = events[i].Data;
                if (token == WakeToken)
                {
                    _wake.Drain();
                    continue;
                }

                if (_registrations.TryGetValue(token, out Registration? r))
                {
                    Safely(r.Callback, events[i].Events);
                }
            }

            while (!_stopping && _posted.TryDequeue(out Action? work))
            {
                Safely(work);
            }
        }
    }

    private void Safely(Action<uint> callback, uint events)
    {
        try
        {
            callback(events);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogCallbackFailed(_logger, e);
        }
    }

    private void Safely(Action work)
    {
        try
        {
            work();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogCallbackFailed(_logger, e);
        }
    }

    private sealed record Registration(SafeHandle Handle, Action<uint> Callback);

    [LoggerMessage(Level = LogLevel.Error, Message = "device event loop: a callback failed")]
    private static partial void LogCallbackFailed(ILogger logger, Exception exception);
}

/// <summary>A registration on an <see cref="EpollLoop"/>; disposing removes it.</summary>
public sealed class EventRegistration(EpollLoop loop, ulong token) : IEventRegistration
{
    internal ulong Token => token;

    public void Dispose() => loop.Unregister(token);
}
