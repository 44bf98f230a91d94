using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Tests.Logging;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// The <c>uart-flood</c> guest writes a deterministic stream through the 8250 to a serial FIFO while a deliberately
/// slow reader (a 3 s stall, then 8 KiB every 250 ms) holds the VMM back: the UART's hold queue, the sink's
/// back-pressure (THRE clear) and its spill file all come into play, and the reader must still get every byte, in
/// order (SHA-256 of what it read against the generator's), after the guest has already ended.
/// </summary>
/// <remarks>
/// Size: <c>KINDLING_UART_FLOOD_BYTES</c> (e.g. 104857600 for 100 MiB), default 1 MiB. KVM hands a
/// <c>rep outsb</c> to the VMM one byte per exit (its emulator's OUTS has no batching, unlike INS), and an exit
/// costs ~27 µs on this kind of emulated-KVM host: ~36 KiB/s, so 1 MiB takes ~30 s here; 100 MiB would take ~48 min.
/// Kindling-only: the spill and back-pressure are this VMM's serial sink.
/// </remarks>
public sealed class UartFloodTests
{
    private const string SizeVariable = "KINDLING_UART_FLOOD_BYTES";
    private const long DefaultBytes = 1L << 20;
    private const int BlockSize = 4096;
    private const int HeaderSize = 16;
    private const int SlowReadBytes = 8192;
    private static readonly TimeSpan InitialStall = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan SlowReadPause = TimeSpan.FromMilliseconds(250);
    private static readonly byte[] EndSentinel = "\n#KINDLING-TEST-END-OF-FIFO#\n"u8.ToArray();

    [KvmFact]
    public async Task UartFlood_ToSerialFifoWithSlowReader_ReaderGetsEveryByteInOrder()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        long total = Environment.GetEnvironmentVariable(SizeVariable) is { Length: > 0 } text
            ? long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture)
            : DefaultBytes;
        TimeSpan timeout = TimeSpan.FromSeconds(120 + (total / 20_000));
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kindling-vmm-flood-");
        try
        {
            string fifo = Fifo.Create(dir.FullName, "serial.fifo");
            string metrics = Path.Combine(dir.FullName, "metrics.json");
            VmConfig config = KindlingVmmProcess.GuestConfig($"kindling.test=uart-flood kindling.bytes={total}", memMib: 64) with
            {
                Serial = new SerialConfig { SerialOutPath = fifo },
                Metrics = new MetricsConfig { MetricsPath = metrics },
            };

            // Read-write: the open does not wait for the VMM, and the reader can end itself with the sentinel.
            await using FileStream reader = new(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
            long started = TimeProvider.System.GetTimestamp();
            Task<GuestRunResult> run = KindlingVmmProcess.RunAsync(config, dir.FullName, timeout, ct);
            Task<FloodRead> read = Task.Run(() => ReadSlowlyAsync(reader, total, ct), ct);
            GuestRunResult r = await run;
            TimeSpan guestTime = TimeProvider.System.GetElapsedTime(started);
            reader.Write(EndSentinel);
            FloodRead got = await read.WaitAsync(TimeSpan.FromSeconds(60), ct);
            string metricLines = await File.ReadAllTextAsync(metrics, ct);

            string summary = $"uart-flood: {total} bytes; VMM ran {guestTime.TotalSeconds:F1} s ({total / 1024.0 / guestTime.TotalSeconds:F1} KiB/s incl. boot and drain); " +
                $"reader got {got.FloodBytes} flood bytes; last metrics: {metricLines.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()}";
            TestContext.Current.TestOutputHelper?.WriteLine(summary);
            Console.WriteLine(summary);
            Assert.True(r.ExitCode == 0, $"{summary}; {r.Describe()}");
            Assert.True(got.Header, $"the reader never saw 'uart-flood: sending {total} bytes'; {summary}; {r.Describe()}");
            Assert.Equal(total, got.FloodBytes);
            Assert.Equal(Convert.ToHexString(ExpectedHash(total)), Convert.ToHexString(got.Hash));
            Assert.StartsWith($"\r\nuart-flood: sent {total} bytes\r\nKINDLING-TEST uart-flood PASS\r\n", got.Tail, StringComparison.Ordinal);
            // The slow reader did hold the guest back and did push bytes through the spill file.
            System.Text.Json.JsonElement uart = System.Text.Json.JsonDocument.Parse(metricLines.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1])
                .RootElement.GetProperty("uart");
            Assert.True(uart.GetProperty("writes_refused").GetInt64() > 0, summary);
            Assert.True(uart.GetProperty("bytes_spilled").GetInt64() > 0, summary);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private sealed record FloodRead(bool Header, long FloodBytes, byte[] Hash, string Tail);

    /// <summary>Header text, then exactly <paramref name="total"/> hashed bytes, then the tail up to the sentinel.</summary>
    private static async Task<FloodRead> ReadSlowlyAsync(FileStream fifo, long total, CancellationToken ct)
    {
        byte[] marker = Encoding.ASCII.GetBytes($"uart-flood: sending {total} bytes\r\n"); // the guest's printf sends CR LF
        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        List<byte> head = [];
        List<byte> tail = [];
        bool inFlood = false;
        long flood = 0;
        byte[] buffer = new byte[SlowReadBytes];
        await Task.Delay(InitialStall, ct);
        while (true)
        {
            int n = await fifo.ReadAsync(buffer, ct);
            int i = 0;
            if (!inFlood && flood == 0)
            {
                for (; i < n && !inFlood; i++)
                {
                    head.Add(buffer[i]);
                    inFlood = head.Count >= marker.Length && head.TakeLast(marker.Length).SequenceEqual(marker);
                }
            }

            if (inFlood)
            {
                int take = (int)Math.Min(n - i, total - flood);
                hash.AppendData(buffer, i, take);
                flood += take;
                i += take;
                inFlood = flood < total;
            }

            tail.AddRange(buffer.AsSpan(i, n - i).ToArray());
            if (tail.Count >= EndSentinel.Length && tail.TakeLast(EndSentinel.Length).SequenceEqual(EndSentinel) ||
                head.Count >= EndSentinel.Length && head.TakeLast(EndSentinel.Length).SequenceEqual(EndSentinel))
            {
                return new FloodRead(flood > 0 || total == 0, flood, hash.GetHashAndReset(), Encoding.ASCII.GetString([.. tail]));
            }

            await Task.Delay(SlowReadPause, ct);
        }
    }

    /// <summary>tests/guests/uartflood.c's stream: 4096-byte blocks, "BLK %08x   \n" then (j·7+13) mod 256.</summary>
    private static byte[] ExpectedHash(long total)
    {
        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] block = new byte[BlockSize];
        for (int j = HeaderSize; j < BlockSize; j++)
        {
            block[j] = unchecked((byte)((j * 7) + 13));
        }

        long sent = 0;
        for (long i = 0; sent < total; i++)
        {
            Encoding.ASCII.GetBytes($"BLK {i:x8}   \n").CopyTo(block, 0);
            int n = (int)Math.Min(BlockSize, total - sent);
            hash.AppendData(block, 0, n);
            sent += n;
        }

        return hash.GetHashAndReset();
    }
}
