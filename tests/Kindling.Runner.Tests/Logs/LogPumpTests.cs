using System.IO.Pipes;
using System.Text;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Tests.Logs;

public sealed class LogPumpTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-logpump-").FullName;

    private string LogPath => Path.Combine(_dir, "job.log");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task RunAsync_SecretAndCharactersSplitAcrossReads_MaskedAndIntact()
    {
        var pump = new LogPump(new SecretMasker(["s3cr3t-value"]), new Recorder());
        await pump.RunAsync(new TrickleStream("token=s3cr3t-value ok\nhéllo wörld ✓\r\nlast line without newline"u8.ToArray()), LogPath, Ct);
        Assert.Equal("token=*** ok\nhéllo wörld ✓\nlast line without newline\n", await File.ReadAllTextAsync(LogPath, Ct));
    }

    [Fact]
    public async Task RunAsync_MultiLineSecretPrinted_NoLineOfItInLog()
    {
        const string key = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\n-----END KEY-----";
        var pump = new LogPump(new SecretMasker([key]), new Recorder());
        await pump.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes($"writing key\n{key}\ndone\n")), LogPath, Ct);
        Assert.Equal("writing key\n***\n***\n***\ndone\n", await File.ReadAllTextAsync(LogPath, Ct));
    }

    [Fact]
    public async Task RunAsync_LongLineWithSecretAcrossCut_CutThereSecretMaskedWholeNextLineKept()
    {
        const string secret = "SECRET-ACROSS-THE-CUT";
        string line = new string('x', LogPump.MaxLineLength - 5) + secret + new string('y', 1 << 20);
        var recorder = new Recorder();
        await new LogPump(new SecretMasker([secret]), recorder).RunAsync(
            new TrickleStream(Encoding.UTF8.GetBytes(line + "\nnext\n"), chunk: 4096), LogPath, Ct);

        string[] lines = (await File.ReadAllTextAsync(LogPath, Ct)).Split('\n');
        Assert.Equal(new string('x', LogPump.MaxLineLength - 5) + SecretMasker.Mask + LogPump.TruncatedMarker, lines[0]);
        Assert.Equal("next", lines[1]);
        Assert.DoesNotContain("SECRET", lines[0], StringComparison.Ordinal);
        Assert.Equal(2, recorder.Lines.Count);
    }

    [Fact]
    public async Task RunAsync_FramingLines_IndexedAndDispatched()
    {
        var recorder = new Recorder();
        var pump = new LogPump(SecretMasker.None, recorder);
        await pump.RunAsync(new MemoryStream("boot\n##kindling[job-start id=7]\nout\n##kindling[job-end result=failed exit=3]\n"u8.ToArray()), LogPath, Ct);
        Assert.Equal(new JobEnd(false, 3), pump.End);
        Assert.Equal(["boot", "out"], recorder.Lines);
        Assert.Equal(["5 job-start id=7", "36 job-end result=failed exit=3"], await File.ReadAllLinesAsync(LogPath + ".idx", Ct));
    }

    [Fact]
    public async Task RunAsync_StepNamedWithASecret_NameMaskedAndStillReadable()
    {
        var recorder = new Recorder();
        var pump = new LogPump(new SecretMasker(["top-secret"]), recorder);
        string name = FramingLine.EncodeText("Run echo '***' | grep 'top-secret'");
        await pump.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes($"##kindling[step-start n=0 name={name}]\n##kindling[error message=top-secret]\n")), LogPath, Ct);

        string[] log = await File.ReadAllLinesAsync(LogPath, Ct);
        Assert.Equal("Run echo '***' | grep '***'", FramingLine.TryParse(log[0])!.Text("name"));
        Assert.DoesNotContain("top-secret", FramingLine.TryParse(log[0])!.Text("name"), StringComparison.Ordinal);
        Assert.Equal("##kindling[error message=***]", log[1]); // a field that does not decode is masked as it stands
    }

    /// <summary>
    /// The log store stalls (the observer blocks): the pump stops reading, so a writer on a real pipe is held back
    /// after about a pipe buffer instead of the pump buffering its output; once it moves again every line arrives in order.
    /// </summary>
    [Fact]
    public async Task RunAsync_SlowConsumer_WriterHeldBackByPipeNothingLost()
    {
        const int lines = 20_000;
        const int lineBytes = 100;
        using var gate = new ManualResetEventSlim(false);
        var recorder = new Recorder(gate);
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        Task pump = Task.Run(() => new LogPump(SecretMasker.None, recorder).RunAsync(client, LogPath, Ct), Ct);
        long written = 0;
        Task writer = Task.Run(() =>
        {
            for (int i = 0; i < lines; i++)
            {
                server.Write(Encoding.ASCII.GetBytes(i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture).PadRight(lineBytes - 1, '.') + "\n"));
                Interlocked.Add(ref written, lineBytes);
            }

            server.Dispose(); // end of stream
        }, Ct);

        // Event-driven: once the observer holds the first line, wait until the writer either finishes (the pump
        // buffered everything: the bug) or makes no progress for a while (held back by the full pipe). Load can
        // only pause the writer, which ends the wait early with less written: the bound below still holds.
        await recorder.FirstLine.Task.WaitAsync(TimeSpan.FromSeconds(120), Ct);
        long heldAt = await StalledAtAsync(() => Interlocked.Read(ref written), writer, TimeSpan.FromSeconds(1));
        Assert.False(writer.IsCompleted, "the writer wrote everything while the log store was stalled: the pump buffered it");
        Assert.InRange(heldAt, lineBytes, 512 * 1024);

        gate.Set();
        await writer;
        await pump;
        string[] logged = await File.ReadAllLinesAsync(LogPath, Ct);
        Assert.Equal(lines, logged.Length);
        Assert.All(logged.Select((l, i) => (l, i)), x => Assert.StartsWith(x.i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture), x.l, StringComparison.Ordinal));
    }

    /// <summary>
    /// The value of <paramref name="progress"/> once it has not changed for <paramref name="quiet"/>, or once
    /// <paramref name="worker"/> ends.
    /// </summary>
    private static async Task<long> StalledAtAsync(Func<long> progress, Task worker, TimeSpan quiet)
    {
        long last = progress();
        var since = System.Diagnostics.Stopwatch.StartNew();
        while (!worker.IsCompleted && since.Elapsed < quiet)
        {
            await Task.Delay(20, Ct);
            long now = progress();
            if (now != last)
            {
                last = now;
                since.Restart();
            }
        }

        return progress();
    }

    private sealed class Recorder(ManualResetEventSlim? gate = null) : ILogObserver
    {
        public List<string> Lines { get; } = [];

        /// <summary>Completes when the first line reaches the observer.</summary>
        public TaskCompletionSource FirstLine { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnLine(long offset, string maskedLine)
        {
            FirstLine.TrySetResult();
            gate?.Wait();
            Lines.Add(maskedLine);
        }
    }

    /// <summary>A stream that hands out at most <c>chunk</c> bytes per read (1 by default): every boundary is a read boundary.</summary>
    private sealed class TrickleStream(byte[] data, int chunk = 1) : Stream
    {
        private int _pos;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _pos; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, chunk), data.Length - _pos);
            Array.Copy(data, _pos, buffer, offset, n);
            _pos += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
