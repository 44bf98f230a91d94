using System.Diagnostics.Metrics;
using Kindling.Runner.Jobs;

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
    private IReadOnlyDictionary<JobState, int> _byState = new Dictionary<JobState, int>();

    public KindlingMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _transitions = _meter.CreateCounter<long>("kindling.jobs.transitions", "{transition}", "Job state transitions by target state");
        _queueWait = _meter.CreateHistogram<double>("kindling.jobs.queue_wait", "s", "Time from a job being seen to its admission");
        _bootTime = _meter.CreateHistogram<double>("kindling.vm.boot_time", "s", "Time from VMM spawn to the guest's job-start");
        _spawnLatency = _meter.CreateHistogram<double>("kindling.vm.spawn_latency", "s", "Time from admission to VMM process spawned");
        _meter.CreateObservableGauge("kindling.jobs.by_state", () =>
            _byState.Select(kv => new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("state", JobLifecycle.Name(kv.Key)))),
            "{job}", "Jobs in each state");
    }

    public void Transition(JobState to) =>
        _transitions.Add(1, new KeyValuePair<string, object?>("state", JobLifecycle.Name(to)));

    public void QueueWait(TimeSpan t, string tenant) => _queueWait.Record(t.TotalSeconds, new KeyValuePair<string, object?>("tenant", tenant));

    public void BootTime(TimeSpan t) => _bootTime.Record(t.TotalSeconds);

    public void SpawnLatency(TimeSpan t) => _spawnLatency.Record(t.TotalSeconds);

    public void UpdateStateCounts(IReadOnlyDictionary<JobState, int> counts) => _byState = counts;

    public void Dispose() => _meter.Dispose();
}
