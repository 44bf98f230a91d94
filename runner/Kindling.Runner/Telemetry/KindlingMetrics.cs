using System.Diagnostics.Metrics;

namespace Kindling.Runner.Telemetry;

/// <summary>The runner's OpenTelemetry instruments (Meter "Kindling.Runner").</summary>
public sealed class KindlingMetrics : IDisposable
{
    public const string MeterName = "Kindling.Runner";

    private readonly Meter _meter;
    private readonly Counter<long> _transitions;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _bootTime;
    private readonly Histogram<double> _spawnLatency;
    private IReadOnlyDictionary<string, int> _byState = new Dictionary<string, int>();

    public KindlingMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _transitions = _meter.CreateCounter<long>("kindling.jobs.transitions", "{transition}", "Job state transitions by target state");
        _queueWait = _meter.CreateHistogram<double>("kindling.jobs.queue_wait", "s", "Time from a job being seen to its admission");
        _bootTime = _meter.CreateHistogram<double>("kindling.vm.boot_time", "s", "Time from VMM spawn to the guest's job-start");
        _spawnLatency = _meter.CreateHistogram<double>("kindling.vm.spawn_latency", "s", "Time from admission to VMM process spawned");
        _meter.CreateObservableGauge("kindling.jobs.by_state", () =>
            _byState.Select(kv => new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("state", kv.Key))),
            "{job}", "Jobs in each state");
    }

    /// <summary>A job entered the state named <paramref name="state"/> (<c>Jobs.JobLifecycle.Name</c>).</summary>
    public void Transition(string state) =>
        _transitions.Add(1, new KeyValuePair<string, object?>("state", state));

    public void QueueWait(TimeSpan t, string tenant) => _queueWait.Record(t.TotalSeconds, new KeyValuePair<string, object?>("tenant", tenant));

    public void BootTime(TimeSpan t) => _bootTime.Record(t.TotalSeconds);

    public void SpawnLatency(TimeSpan t) => _spawnLatency.Record(t.TotalSeconds);

    /// <summary>How many jobs are in each state, by state name.</summary>
    public void UpdateStateCounts(IReadOnlyDictionary<string, int> counts) => _byState = counts;

    public void Dispose() => _meter.Dispose();
}
