using System.Diagnostics;
using System.Security.Cryptography;
using Kindling.Testing;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Logging;

namespace Kindling.Vmm.Tests.Logging;

public sealed class PipeSerialOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kfifo").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes <paramref name="data"/> one byte at a time the way the UART does: a refused byte waits for Writable.</summary>
    private static void WriteLikeUart(ISerialOutput sink, ReadOnlySpan<byte> data)
    {
        using var writable = new SemaphoreSlim(0);
        sink.Writable += () => writable.Release();
        foreach (byte b in data)
        {
            while (!sink.TryWrite(b))
            {
                writable.Wait(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    [Fact]
    public async Task Fifo_100MiBWithSlowReader_ArrivesByteForByte()
    {
        const int total = 100 * 1024 * 1024;
        string fifo = Fifo.Create(_dir, "serial.fifo");
        byte[] data = new byte[total];
        new Random(42).NextBytes(data);
        byte[] expected = SHA256.HashData(data);

        // A short spill bound so the reader's stalls push bytes through the spill file too.
        var sink = (PipeSerialOutput)SerialOutputs.Open(fifo, TimeProvider.System, spillAfter: TimeSpan.FromMilliseconds(5));
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<byte[]> reader = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using var input = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            byte[] buffer = new byte[8192];
            long read = 0;
            long nextStall = 1024 * 1024;
            bool spilledOnce = false;
            while (read < total)
            {
                int n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, total - read)), ct);
                Assert.NotEqual(0, n);
                hash.AppendData(buffer, 0, n);
                read += n;
                if (read >= nextStall)
                {
                    // The deliberately slow reader: stops reading for a while every 4 MiB; the first stall lasts
                    // until the sink gave up holding the guest and spilled, so the spill path is always exercised.
                    nextStall += 4 * 1024 * 1024;
                    await Task.Delay(30, ct);
                    while (!spilledOnce && !sink.IsSpilling)
                    {
                        await Task.Delay(1, ct);
                    }

                    spilledOnce = true;
                }
            }

            return hash.GetHashAndReset();
        }, ct);

        var clock = Stopwatch.StartNew();
        await Task.Run(() => WriteLikeUart(sink, data), ct);
        byte[] actual = await reader;
        TestContext.Current.SendDiagnosticMessage(
            $"100 MiB in {clock.Elapsed.TotalSeconds:F1} s; refused {sink.Metrics.WritesRefused}, spilled {sink.Metrics.BytesSpilled} bytes");

        Assert.Equal(expected, actual);
        // The writer thread counts a chunk after its write returns, which can be after the reader saw its bytes.
        for (var wait = Stopwatch.StartNew(); sink.Metrics.BytesDelivered < total && wait.Elapsed < TimeSpan.FromSeconds(10);)
        {
            await Task.Delay(10, ct);
        }

        Assert.Equal(total, sink.Metrics.BytesDelivered);
        Assert.True(sink.Metrics.WritesRefused > 0, "the slow reader never caused back-pressure");
        Assert.True(sink.Metrics.BytesSpilled > 0, "the reader's stalls never pushed bytes through the spill file");
        sink.Dispose();
    }

    [Fact]
    public void Fifo_NoReader_OpenDoesNotBlockAndBuffers()
    {
        string fifo = Fifo.Create(_dir, "noreader.fifo");

        using var sink = (PipeSerialOutput)SerialOutputs.Open(fifo, TimeProvider.System);
        bool accepted = "hello"u8.ToArray().All(sink.TryWrite);

        Assert.True(accepted);
        Assert.True(sink.Flush(TimeSpan.FromSeconds(5)));

        using var input = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        byte[] buffer = new byte[5];
        input.ReadExactly(buffer);
        Assert.Equal("hello"u8.ToArray(), buffer);
    }

    [Fact]
    public void TryWrite_BufferFullAndTargetBlocked_RefusesUntilSpillBoundThenSpills()
    {
        var time = new FakeTimeProvider();
        using var blocked = new BlockingStream();
        string spill = Path.Combine(_dir, "out.spill");
        using var sink = new PipeSerialOutput(blocked, spill, time, bufferBytes: 4, spillAfter: TimeSpan.FromSeconds(1));
        int writable = 0;
        sink.Writable += () => Interlocked.Increment(ref writable);

        // The writer thread takes byte 0 and blocks in the target (byte 0 keeps its ring slot until written).
        Assert.True(sink.TryWrite(0));
        Assert.True(blocked.Entered.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        for (byte b = 1; b <= 3; b++)
        {
            Assert.True(sink.TryWrite(b));
        }

        Assert.False(sink.TryWrite(4));
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(sink.TryWrite(4));
        Assert.False(sink.IsSpilling);

        time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.True(sink.IsSpilling);
        Assert.Equal(1, writable);
        Assert.True(sink.TryWrite(4));
        Assert.True(sink.TryWrite(5));
        Assert.True(sink.TryWrite(6));
        Assert.Equal(3, sink.Metrics.BytesSpilled);

        blocked.Release();
        Assert.True(sink.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6 }, blocked.Written);
        Assert.False(sink.IsSpilling);
    }

    /// <summary>
    /// The guest has ended with output still spilled and a reader slower than any fixed bound: Dispose keeps
    /// delivering while the reader takes bytes (it used to give up after 2 s and lose the rest).
    /// </summary>
    [Fact]
    public async Task Dispose_SlowReaderBehind_DeliversEverythingBeforeReturning()
    {
        const int total = 384 * 1024;
        string fifo = Fifo.Create(_dir, "drain.fifo");
        byte[] data = new byte[total];
        new Random(7).NextBytes(data);
        CancellationToken ct = TestContext.Current.CancellationToken;
        var sink = (PipeSerialOutput)SerialOutputs.Open(fifo, TimeProvider.System, spillAfter: TimeSpan.FromMilliseconds(5));
        await using var input = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        await Task.Run(() => WriteLikeUart(sink, data), ct);

        Task dispose = Task.Run(sink.Dispose, ct);
        using var got = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        var clock = Stopwatch.StartNew();
        while (got.Length < total)
        {
            int n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, total - got.Length)), ct);
            Assert.NotEqual(0, n);
            got.Write(buffer, 0, n);
            Assert.False(dispose.IsCompleted && got.Length < total - (64 * 1024), $"Dispose returned with {total - got.Length} bytes undelivered");
            await Task.Delay(500, ct); // ~128 KiB/s: the rest takes longer than 2 s
        }

        await dispose.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(2), $"the slow reader finished in {clock.Elapsed}; the test proves nothing");
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got.ToArray()));
    }

    /// <summary>A reader that never reads does not keep the VMM from exiting: Dispose gives up after the stall bound.</summary>
    [Fact]
    public async Task Dispose_ReaderNeverReads_GivesUpAfterTheStallBound()
    {
        string fifo = Fifo.Create(_dir, "stalled.fifo");
        FileStream target = new(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
#pragma warning disable CA2000 // disposed below, on a task: that Dispose is what the test times
        var sink = new PipeSerialOutput(target, Path.Combine(_dir, "stalled.spill"), TimeProvider.System,
            spillAfter: TimeSpan.FromMilliseconds(5), drainStall: TimeSpan.FromMilliseconds(300));
#pragma warning restore CA2000
        await Task.Run(() => WriteLikeUart(sink, new byte[256 * 1024]), TestContext.Current.CancellationToken);

        var clock = Stopwatch.StartNew();
        await Task.Run(sink.Dispose, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Dispose took {clock.Elapsed}");
    }

    /// <summary>A spill file that cannot be created (a root-owned jail folder) leaves pure back-pressure, never an exception.</summary>
    [Fact]
    public void SpillBound_SpillFileCannotBeCreated_KeepsRefusingAndLosesNothing()
    {
        var time = new FakeTimeProvider();
        using var blocked = new BlockingStream();
        using var sink = new PipeSerialOutput(blocked, Path.Combine(_dir, "missing-folder", "out.spill"), time, bufferBytes: 2,
            spillAfter: TimeSpan.FromSeconds(1));
        Assert.True(sink.TryWrite(0));
        Assert.True(blocked.Entered.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.True(sink.TryWrite(1));
        Assert.False(sink.TryWrite(2));

        time.Advance(TimeSpan.FromSeconds(2));

        Assert.False(sink.IsSpilling);
        Assert.IsAssignableFrom<IOException>(sink.SpillError);
        Assert.False(sink.TryWrite(2));
        blocked.Release();
        Assert.True(sink.Flush(TimeSpan.FromSeconds(10)));
        Assert.True(sink.TryWrite(2));
        Assert.True(sink.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(new byte[] { 0, 1, 2 }, blocked.Written);
    }

    [Fact]
    public void File_RegularPath_AppendsEverything()
    {
        string path = Path.Combine(_dir, "serial.log");

        using (var sink = (FileSerialOutput)SerialOutputs.Open(path, TimeProvider.System))
        {
            WriteLikeUart(sink, "line 1\nline 2"u8);
        }

        Assert.Equal("line 1\nline 2", File.ReadAllText(path));
    }

    /// <summary>A target whose first write blocks until <see cref="Release"/>.</summary>
    private sealed class BlockingStream : Stream
    {
        private readonly ManualResetEventSlim _release = new();
        private readonly List<byte> _written = [];

        public ManualResetEventSlim Entered { get; } = new();

        public byte[] Written
        {
            get
            {
                lock (_written)
                {
                    return [.. _written];
                }
            }
        }

        public void Release() => _release.Set();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Entered.Set();
            _release.Wait();
            lock (_written)
            {
                _written.AddRange(buffer.AsSpan(offset, count).ToArray());
            }
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _release.Set();
            base.Dispose(disposing);
        }
    }
}
