using System.Runtime.InteropServices;
using Kindling.Vmm.Devices;

namespace Kindling.Vmm.Tests.Devices;

/// <summary>
/// An <see cref="IEventLoop"/> the test turns by hand, with no thread: <see cref="RunReady"/> asks poll(2) which
/// registered descriptors are ready (EPOLLIN/OUT/ERR/HUP have poll's values) and runs their callbacks and the posted
/// work on the calling thread. Refuses what EpollLoop refuses: a closed handle, use after Dispose, and a registration
/// of another loop.
/// </summary>
internal sealed partial class ManualEventLoop(TimeProvider? time = null) : IEventLoop, IDisposable
{
    private const uint EpollEt = 1u << 31;
    private readonly List<Registration> _registrations = [];
    private readonly Queue<Action> _posted = new();
    private bool _running;
    private bool _disposed;

    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    /// <summary>True inside <see cref="RunReady"/>, as EpollLoop's is on its thread.</summary>
    public bool IsLoopThread => _running;

    public void Post(Action work)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _posted.Enqueue(work);
    }

    public IEventRegistration Register(SafeHandle fd, uint events, Action<uint> callback)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (fd.IsClosed || fd.IsInvalid)
        {
            throw new ArgumentException("epoll_ctl(EPOLL_CTL_ADD) would fail with EBADF: the handle is closed", nameof(fd));
        }

        var r = new Registration(this, fd, events, callback);
        _registrations.Add(r);
        return r;
    }

    public void Modify(IEventRegistration registration, uint events)
    {
        if (registration is not Registration r || r.Loop != this)
        {
            throw new ArgumentException("not a registration of this loop", nameof(registration));
        }

        r.Events = events;
    }

    /// <summary>
    /// Runs posted work and the callbacks of ready descriptors (level-triggered: one still ready runs again in the
    /// next round) until a round finds nothing, or for <paramref name="rounds"/> rounds; returns how many ran.
    /// </summary>
    public int RunReady(int rounds = 8)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int ran = 0;
        _running = true;
        try
        {
            for (int round = 0; round < rounds; round++)
            {
                int before = ran;
                while (_posted.TryDequeue(out Action? work))
                {
                    work();
                    ran++;
                }

                Registration[] live = [.. _registrations.Where(r => !r.Disposed && !r.Handle.IsClosed)];
                var fds = new PollFd[live.Length];
                for (int i = 0; i < live.Length; i++)
                {
                    fds[i] = new PollFd { Fd = (int)live[i].Handle.DangerousGetHandle(), Events = (short)(live[i].Events & ~EpollEt) };
                }

                if (fds.Length > 0 && Poll(ref MemoryMarshal.GetArrayDataReference(fds), (nuint)fds.Length, 0) < 0)
                {
                    throw new InvalidOperationException($"poll failed: errno {Marshal.GetLastPInvokeError()}");
                }

                for (int i = 0; i < live.Length; i++)
                {
                    if (fds[i].Revents != 0 && !live[i].Disposed)
                    {
                        live[i].Callback((ushort)fds[i].Revents);
                        ran++;
                    }
                }

                if (ran == before)
                {
                    break;
                }
            }
        }
        finally
        {
            _running = false;
        }

        return ran;
    }

    public void Dispose() => _disposed = true;

    private sealed class Registration(ManualEventLoop loop, SafeHandle handle, uint events, Action<uint> callback) : IEventRegistration
    {
        public ManualEventLoop Loop { get; } = loop;

        public SafeHandle Handle { get; } = handle;

        public uint Events { get; set; } = events;

        public Action<uint> Callback { get; } = callback;

        public bool Disposed { get; private set; }

        public void Dispose()
        {
            Disposed = true;
            Loop._registrations.Remove(this);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeoutMs);
}
