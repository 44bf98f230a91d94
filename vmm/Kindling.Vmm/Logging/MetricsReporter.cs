using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kindling.Vmm.Logging;

/// <summary>
/// Firecracker-style metrics: one JSON object per line (<c>{"utc_timestamp_ms": ..., "uart": {...}, "mmds": {...}}</c>)
/// written when started, every <see cref="Period"/> and on FlushMetrics. Components register named sections of
/// counters; values are cumulative since the VMM started.
/// </summary>
public sealed class MetricsReporter : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(60);

    private readonly object _gate = new();
    private readonly LineSink _sink;
    private readonly TimeProvider _time;
    private readonly List<(string Name, Func<IReadOnlyDictionary<string, long>> Read)> _sections = [];
    private ITimer? _timer;

    public MetricsReporter(LineSink sink, TimeProvider time)
    {
        _sink = sink;
        _time = time;
    }

    /// <summary>Adds a section (e.g. <c>uart</c>) whose counters are read at each flush.</summary>
    public void Register(string section, Func<IReadOnlyDictionary<string, long>> read)
    {
        lock (_gate)
        {
            _sections.Add((section, read));
        }
    }

    /// <summary>Registers the counters of a serial sink as the <c>uart</c> section.</summary>
    public void RegisterSerial(SerialOutputMetrics metrics) => Register("uart", () => new Dictionary<string, long>
    {
        ["bytes_written"] = metrics.BytesWritten,
        ["bytes_delivered"] = metrics.BytesDelivered,
        ["bytes_spilled"] = metrics.BytesSpilled,
        ["writes_refused"] = metrics.WritesRefused,
    });

    /// <summary>Writes the first line and starts the periodic flush.</summary>
    public void Start()
    {
        Flush();
        _timer = _time.CreateTimer(_ => Flush(), null, Period, Period);
    }

    /// <summary>Writes one metrics line now (FlushMetrics).</summary>
    public void Flush()
    {
        var line = new JsonObject { ["utc_timestamp_ms"] = _time.GetUtcNow().ToUnixTimeMilliseconds() };
        lock (_gate)
        {
            foreach ((string name, Func<IReadOnlyDictionary<string, long>> read) in _sections)
            {
                var section = new JsonObject();
                foreach (KeyValuePair<string, long> kv in read())
                {
                    section[kv.Key] = kv.Value;
                }

                line[name] = section;
            }

            _sink.WriteLine(line.ToJsonString(CompactOptions));
        }
    }

    public void Dispose() => _timer?.Dispose();

    private static readonly JsonSerializerOptions CompactOptions = new() { WriteIndented = false };
}
