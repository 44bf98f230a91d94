using System.Diagnostics;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Where a machine's start-up time goes, phase by phase, from <see cref="VirtualMachine.Create"/> to the first
/// KVM_RUN (logged at Debug as one "start phases:" line, which the launch benchmark suite reads), plus the phases done
/// ahead of InstanceStart (<see cref="PreparedVm"/>), listed apart because they are off the critical path.
/// </summary>
public sealed class StartPhases
{
    private readonly List<(string Phase, TimeSpan Took)> _phases = [];
    private readonly List<(string Phase, TimeSpan Took)> _ahead = [];
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _last;

    public StartPhases() => _last = _start;

    /// <summary>The phases on the critical path, in order.</summary>
    public IReadOnlyList<(string Phase, TimeSpan Took)> Phases => _phases;

    /// <summary>The phases done before InstanceStart.</summary>
    public IReadOnlyList<(string Phase, TimeSpan Took)> Ahead => _ahead;

    /// <summary>From the start to the last mark.</summary>
    public TimeSpan Total => Stopwatch.GetElapsedTime(_start, _last);

    /// <summary>Ends phase <paramref name="phase"/> now: it took the time since the previous mark.</summary>
    public void Mark(string phase)
    {
        long now = Stopwatch.GetTimestamp();
        _phases.Add((phase, Stopwatch.GetElapsedTime(_last, now)));
        _last = now;
    }

    /// <summary>Records a phase that was done ahead of InstanceStart.</summary>
    public void AddAhead(string phase, TimeSpan took) => _ahead.Add((phase, took));

    public override string ToString()
    {
        string critical = string.Join(", ", _phases.Select(p => $"{p.Phase} {Ms(p.Took)} ms"));
        string ahead = _ahead.Count == 0 ? "none" : string.Join(", ", _ahead.Select(p => $"{p.Phase} {Ms(p.Took)} ms"));
        return $"{critical}; total {Ms(Total)} ms; done ahead of InstanceStart: {ahead}";
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
}
