using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Jobs;

/// <summary>One phase of a job's VM (issue 21): what ended and when, in milliseconds since the job was admitted.</summary>
public sealed record JobPhase(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("at_ms")] double AtMs);

/// <summary>
/// The phases of a job's VM as the runner saw them: <c>warm slot</c>, <c>restore</c> or <c>boot</c> (the VMM is up
/// and the guest running: a paused VM of the pool's warm slots resumed, a VMM restored from the golden snapshot, or
/// a cold boot), <c>job received</c> (the agent read its job: job-start), <c>first step</c> (its first step-start),
/// <c>last step</c> (the last step-end), <c>reset</c> (the VM gone after the job). Recorded with the runner's
/// clock, written beside the job's log (<c>logs/ID.phases.json</c>, no secrets) for the job page and
/// <c>kindling replay</c>'s summary. It also observes the log (forwarding everything to the next observer).
/// </summary>
public sealed class JobPhases(TimeProvider time, ILogObserver? next) : ILogObserver
{
    /// <summary>The first phase of a job that started from a warm slot (a paused, restored VM resumed with its job).</summary>
    public const string WarmSlot = "warm slot";

    /// <summary>The first phase of a job whose VM was restored from the golden snapshot.</summary>
    public const string Restore = "restore";

    /// <summary>The first phase of a job whose VM booted.</summary>
    public const string Boot = "boot";

    private readonly long _start = time.GetTimestamp();
    private readonly List<JobPhase> _phases = [];
    private readonly Lock _gate = new();
    private bool _firstStep = true;
    private JobPhase? _lastStep;

    public static string PathFor(string stateDirectory, long jobId) =>
        Path.Combine(stateDirectory, "logs", jobId.ToString(CultureInfo.InvariantCulture) + ".phases.json");

    public IReadOnlyList<JobPhase> Phases
    {
        get
        {
            lock (_gate)
            {
                return [.. _phases, .. _lastStep is null ? [] : new[] { _lastStep }];
            }
        }
    }

    /// <summary>Records <paramref name="name"/> now (once per name).</summary>
    public void Mark(string name)
    {
        lock (_gate)
        {
            if (!_phases.Any(p => p.Name == name))
            {
                _phases.Add(new JobPhase(name, time.GetElapsedTime(_start).TotalMilliseconds));
            }
        }
    }

    public void OnJobStart()
    {
        Mark("job received");
        next?.OnJobStart();
    }

    public void OnStepStart(int n, string name)
    {
        Mark("job received");
        lock (_gate)
        {
            if (_firstStep)
            {
                _firstStep = false;
                _phases.Add(new JobPhase("first step", time.GetElapsedTime(_start).TotalMilliseconds));
            }
        }

        next?.OnStepStart(n, name);
    }

    public void OnStepEnd(int n, int exitCode, double? seconds)
    {
        lock (_gate)
        {
            _lastStep = new JobPhase("last step", time.GetElapsedTime(_start).TotalMilliseconds);
        }

        next?.OnStepEnd(n, exitCode, seconds);
    }

    public void OnStepSkip(int n, string name, string reason) => next?.OnStepSkip(n, name, reason);

    public void OnStepFiles(int n, StepFiles files) => next?.OnStepFiles(n, files);

    public void OnLine(long offset, string maskedLine) => next?.OnLine(offset, maskedLine);

    public void OnAgentError(string message) => next?.OnAgentError(message);

    public void OnJobEnd(JobEnd end) => next?.OnJobEnd(end);

    /// <summary>Writes the phases (in order) to <paramref name="path"/>, replacing it whole.</summary>
    public async Task SaveAsync(string path)
    {
        List<JobPhase> ordered = [.. Phases.OrderBy(p => p.AtMs)];
        string temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(ordered, JobPhasesJson.Default.ListJobPhase));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The phases written for a job, or none.</summary>
    public static IReadOnlyList<JobPhase> Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), JobPhasesJson.Default.ListJobPhase) ?? [];
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>"restore 12 ms · job received +3 ms · first step +1 ms · …": each phase with the time since the one before.</summary>
    public static string Summary(IReadOnlyList<JobPhase> phases)
    {
        double before = 0;
        var parts = new List<string>();
        foreach (JobPhase p in phases)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{p.Name} {(parts.Count == 0 ? "" : "+")}{p.AtMs - before:F0} ms"));
            before = p.AtMs;
        }

        return string.Join(" · ", parts);
    }
}

[JsonSerializable(typeof(List<JobPhase>))]
internal sealed partial class JobPhasesJson : JsonSerializerContext;
