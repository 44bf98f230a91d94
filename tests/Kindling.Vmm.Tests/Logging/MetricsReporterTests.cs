using System.Text.Json;
using Kindling.Testing;
using Kindling.Vmm.Logging;

namespace Kindling.Vmm.Tests.Logging;

public sealed class MetricsReporterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kmet").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Metrics_StartPeriodAndFlush_WriteOneJsonLineEach()
    {
        var time = new FakeTimeProvider();
        string path = Path.Combine(_dir, "metrics.json");
        var serial = new SerialOutputMetrics();
        long counter = 0;
        using (var sink = new LineSink(path, time))
        using (var reporter = new MetricsReporter(sink, time))
        {
            reporter.RegisterSerial(serial);
            reporter.Register("mmds", () => new Dictionary<string, long> { ["rx_count"] = counter });

            reporter.Start();
            counter = 5;
            time.Advance(TimeSpan.FromSeconds(59));
            Assert.Single(File.ReadAllLines(path));
            time.Advance(TimeSpan.FromSeconds(1));
            counter = 9;
            reporter.Flush();
        }

        string[] lines = File.ReadAllLines(path);
        Assert.Equal(3, lines.Length);
        using JsonDocument first = JsonDocument.Parse(lines[0]);
        using JsonDocument periodic = JsonDocument.Parse(lines[1]);
        using JsonDocument flushed = JsonDocument.Parse(lines[2]);
        Assert.Equal(0, first.RootElement.GetProperty("mmds").GetProperty("rx_count").GetInt64());
        Assert.Equal(5, periodic.RootElement.GetProperty("mmds").GetProperty("rx_count").GetInt64());
        Assert.Equal(9, flushed.RootElement.GetProperty("mmds").GetProperty("rx_count").GetInt64());
        Assert.Equal(0, first.RootElement.GetProperty("uart").GetProperty("bytes_spilled").GetInt64());
        Assert.Equal(60_000, periodic.RootElement.GetProperty("utc_timestamp_ms").GetInt64() - first.RootElement.GetProperty("utc_timestamp_ms").GetInt64());
    }
}
