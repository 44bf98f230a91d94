using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Kindling.Native;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Tests.Logs;

public sealed class SerialFifoStreamTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-fifo-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string NewFifo(string name = "serial.fifo")
    {
        string path = Path.Combine(_dir, name);
        FdIo.MakeFifo(path);
        return path;
    }

    [Fact]
    public void EpollEvent_Layout_MatchesLinuxX64()
    {
        Assert.Equal(12, Marshal.SizeOf<EpollEvent>());
        Assert.Equal(0, (int)Marshal.OffsetOf<EpollEvent>(nameof(EpollEvent.Events)));
        Assert.Equal(4, (int)Marshal.OffsetOf<EpollEvent>(nameof(EpollEvent.Data)));
    }

    [Fact]
    public async Task ReadAsync_NoWriterYet_WaitsThenReadsAllUntilWriterCloses()
    {
        string path = NewFifo();
        await using SerialFifoStream fifo = SerialFifoStream.Open(path); // returns with no writer
        var buffer = new byte[4096];
        ValueTask<int> first = fifo.ReadAsync(buffer, Ct);
        await Task.Delay(200, Ct);
        Assert.False(first.IsCompleted, "a FIFO nobody has opened for writing must not read as end of file");

        await using (var writer = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            await writer.WriteAsync("hello "u8.ToArray(), Ct);
            await writer.FlushAsync(Ct);
            int n = await first;
            Assert.Equal("hello ", Encoding.ASCII.GetString(buffer, 0, n));
            await writer.WriteAsync("world\n"u8.ToArray(), Ct);
        }

        var rest = new MemoryStream();
        int read;
        while ((read = await fifo.ReadAsync(buffer, Ct)) > 0)
        {
            rest.Write(buffer, 0, read);
        }

        Assert.Equal("world\n", Encoding.ASCII.GetString(rest.ToArray()));
    }

    [Fact]
    public async Task ReadAsync_WriterOpensAndClosesWithoutWriting_EndOfFile()
    {
        string path = NewFifo();
        await using SerialFifoStream fifo = SerialFifoStream.Open(path);
        ValueTask<int> read = fifo.ReadAsync(new byte[16], Ct);
        await using (new FileStream(path, FileMode.Open, FileAccess.Write))
        {
        }

        Assert.Equal(0, await read.AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct));
    }

    [Fact]
    public async Task ReadAsync_Cancelled_ThrowsAndStreamStillUsable()
    {
        string path = NewFifo();
        await using SerialFifoStream fifo = SerialFifoStream.Open(path);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fifo.ReadAsync(new byte[16], cancel.Token).AsTask());

        await using var writer = new FileStream(path, FileMode.Open, FileAccess.Write);
        await writer.WriteAsync("x"u8.ToArray(), Ct);
        await writer.FlushAsync(Ct);
        var one = new byte[1];
        Assert.Equal(1, await fifo.ReadAsync(one, Ct));
        Assert.Equal((byte)'x', one[0]);
    }

    /// <summary>200 VMs' FIFOs waiting at once cost no thread each (blocking reads would pin the thread pool's threads).</summary>
    [Fact]
    public async Task ReadAsync_ManyFifosWaiting_NoThreadPerFifoAllComplete()
    {
        const int count = 200;
        string[] paths = [.. Enumerable.Range(0, count).Select(i => NewFifo($"f{i}.fifo"))];
        SerialFifoStream[] fifos = [.. paths.Select(SerialFifoStream.Open)];
        try
        {
            int threadsBefore = Process.GetCurrentProcess().Threads.Count;
            long poolBefore = ThreadPool.ThreadCount;
            Task<int>[] reads = [.. fifos.Select(f => f.ReadAsync(new byte[64], Ct).AsTask())];
            await Task.Delay(300, Ct);
            Assert.All(reads, r => Assert.False(r.IsCompleted));
            // A thread per FIFO would add 200; other tests running beside this one (and the pool's own growth on a
            // loaded machine) add a few, so the bound is half the FIFOs, not an exact count.
            Assert.InRange(Process.GetCurrentProcess().Threads.Count - threadsBefore, int.MinValue, count / 2);
            Assert.InRange(ThreadPool.ThreadCount - poolBefore, long.MinValue, count / 2);
            // The pool is free for other work: reads blocked in read(2) would each hold one of its threads, and
            // the pool would add threads one by one (~2 a second) until this item ran: minutes for 200.
            Assert.Equal(42, await Task.Run(() => 42, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct));

            FileStream[] writers = [.. paths.Select(p => new FileStream(p, FileMode.Open, FileAccess.Write))];
            foreach (FileStream w in writers)
            {
                w.Write("ok"u8);
                w.Flush();
            }

            int[] got = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(120), Ct);
            Assert.All(got, n => Assert.Equal(2, n));
            foreach (FileStream w in writers)
            {
                await w.DisposeAsync();
            }
        }
        finally
        {
            foreach (SerialFifoStream f in fifos)
            {
                await f.DisposeAsync();
            }
        }
    }
}
