using System.Collections.Concurrent;

namespace Kindling.Runner.Logs;

/// <summary>
/// The read end of a VM's serial FIFO, read without a thread blocked per VM: the FIFO is opened non-blocking (so
/// opening never waits for the VMM) and one epoll thread, shared by every FIFO of the process, wakes a pending
/// read when data arrives or the last writer hangs up. A FIFO nobody has opened for writing yet reads as "no
/// data", not as end of file; end of file is reported once a writer has been there and every writer has closed
/// (the VMM exited).
/// </summary>
public sealed class SerialFifoStream : Stream
{
    private static readonly Lazy<Poller> SharedPoller = new(() => new Poller(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly FileDescriptor _fd;
    private readonly Poller _poller;
    private readonly ulong _id;
    private readonly object _gate = new();
    private TaskCompletionSource<uint>? _ready;
    private bool _writerSeen;
    private bool _disposed;

    private SerialFifoStream(FileDescriptor fd, Poller poller)
    {
        _fd = fd;
        _poller = poller;
        _id = poller.Add(this, fd);
    }

    /// <summary>Opens the FIFO for reading; returns at once whether or not a writer has it open yet.</summary>
    public static SerialFifoStream Open(string path) => new(FileDescriptor.Open(path, Libc.O_RDONLY | Libc.O_NONBLOCK), SharedPoller.Value);

    public override bool CanRead => !_disposed;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(_disposed, this);
            int n = FdIo.Read(_fd, buffer.Span); // -1: nothing yet (EAGAIN)
            if (n > 0)
            {
                _writerSeen = true;
                return n;
            }

            if (n == 0 && _writerSeen)
            {
                return 0; // every writer has closed
            }

            // No data yet: no writer has opened the FIFO (read says 0) or it has not written (EAGAIN).
            var ready = new TaskCompletionSource<uint>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                _ready = ready;
            }

            _poller.Arm(_fd, _id); // level-triggered: data that came since the read fires at once
            await using (cancellationToken.Register(() => ready.TrySetCanceled(cancellationToken)))
            {
                await ready.Task;
            }

            // Any event means a writer has been there: data (EPOLLIN) or one that came and left (EPOLLHUP is not
            // reported for a FIFO no writer opened since we did).
            _writerSeen = true;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _poller.Remove(_fd, _id);
            _fd.Dispose();
            TaskCompletionSource<uint>? pending;
            lock (_gate)
            {
                (pending, _ready) = (_ready, null);
            }

            pending?.TrySetException(new ObjectDisposedException(nameof(SerialFifoStream)));
        }

        base.Dispose(disposing);
    }

    private void OnReady(uint events)
    {
        TaskCompletionSource<uint>? ready;
        lock (_gate)
        {
            (ready, _ready) = (_ready, null);
        }

        ready?.TrySetResult(events);
    }

    /// <summary>One epoll set and one thread for every FIFO of the process; registrations are one-shot, re-armed per wait.</summary>
    private sealed class Poller
    {
        private const int Batch = 64;
        private readonly FileDescriptor _epoll = Epoll.Create();
        private readonly ConcurrentDictionary<ulong, SerialFifoStream> _fifos = new();
        private long _next;

        public Poller() => new Thread(Loop) { IsBackground = true, Name = "kindling-serial-epoll" }.Start();

        public ulong Add(SerialFifoStream fifo, FileDescriptor fd)
        {
            ulong id = (ulong)Interlocked.Increment(ref _next);
            _fifos[id] = fifo;
            Epoll.Control(_epoll, Epoll.EPOLL_CTL_ADD, fd, Epoll.EPOLLONESHOT, id); // not armed until a read waits
            return id;
        }

        public void Arm(FileDescriptor fd, ulong id) =>
            Epoll.Control(_epoll, Epoll.EPOLL_CTL_MOD, fd, Epoll.EPOLLIN | Epoll.EPOLLONESHOT, id);

        public void Remove(FileDescriptor fd, ulong id)
        {
            _fifos.TryRemove(id, out _);
            Epoll.Control(_epoll, Epoll.EPOLL_CTL_DEL, fd, 0, id);
        }

        private void Loop()
        {
            var events = new EpollEvent[Batch];
            while (true)
            {
                int n = Epoll.Wait(_epoll, events, -1);
                for (int i = 0; i < n; i++)
                {
                    if (_fifos.TryGetValue(events[i].Data, out SerialFifoStream? fifo))
                    {
                        fifo.OnReady(events[i].Events);
                    }
                }
            }
        }
    }
}
