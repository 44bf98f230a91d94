using System.Globalization;
using Kindling.Benchmarks.Reporting;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// Where a pre-spawned kindling-vmm's InstanceStart time goes (issue 24, item 4): the VMM started with
/// <c>--log-level Debug</c> logs one "start phases:" line (Kindling.Vmm.Machine.StartPhases) from VirtualMachine.Create
/// to the first KVM_RUN, with the phases it did ahead of InstanceStart (KVM open, VM creation, CPUID query) while it
/// waited for its configuration. One row per phase, medians over the rounds; the ahead phases are marked as such.
/// </summary>
internal static class StartPhaseBenchmarks
{
    private const int Rounds = 10;
    private const string Marker = "start phases: ";
    private const string AheadMarker = "done ahead of InstanceStart: ";

    public static void Run(BenchReport report, string executable, string build, string work)
    {
        string name = $"kindling-vmm start phases (pre-spawned, {build})";
        var samples = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var order = new List<string>();
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                string? line = null;
                LaunchBenchmarks.PreSpawned(executable, work, ["--log-level", "Debug"], stderr =>
                    line = stderr.Split('\n').FirstOrDefault(l => l.Contains(Marker, StringComparison.Ordinal)));
                foreach ((string phase, double ms) in Parse(line ?? throw new InvalidOperationException($"no \"{Marker.Trim()}\" line on the VMM's stderr")))
                {
                    if (!samples.TryGetValue(phase, out List<double>? list))
                    {
                        samples[phase] = list = [];
                        order.Add(phase);
                    }

                    list.Add(ms);
                }
            }
        }
        catch (InvalidOperationException e)
        {
            report.Failed($"{name}: InstanceStart → first KVM_RUN", "ms", null, e.Message);
            return;
        }

        foreach (string phase in order)
        {
            report.Add(new BenchRow($"{name}: {phase}", "ms", Stats.Median(samples[phase])) { P90 = Stats.P90(samples[phase]), Runs = samples[phase].Count });
        }
    }

    public static void Skip(BenchReport report, string why) =>
        report.Skipped("kindling-vmm start phases (pre-spawned, NativeAOT): InstanceStart → first KVM_RUN", "ms", "phase timings, no target", why);

    /// <summary>
    /// "kvm open+vm create 0.400 ms, guest memory 0.010 ms; total 0.410 ms; done ahead of InstanceStart: none" →
    /// (phase, ms) pairs; the total as "total", each ahead phase as "ahead: NAME".
    /// </summary>
    internal static IReadOnlyList<(string Phase, double Ms)> Parse(string line)
    {
        string text = line[(line.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..].Trim();
        string[] parts = text.Split("; ");
        var result = new List<(string, double)>();
        foreach (string entry in parts[0].Split(", "))
        {
            result.Add(Entry(entry, ""));
        }

        foreach (string part in parts.Skip(1))
        {
            if (part.StartsWith(AheadMarker, StringComparison.Ordinal))
            {
                string ahead = part[AheadMarker.Length..];
                if (ahead != "none")
                {
                    result.AddRange(ahead.Split(", ").Select(e => Entry(e, "ahead: ")));
                }
            }
            else
            {
                result.Add(Entry(part, ""));
            }
        }

        return result;
    }

    /// <summary>"NAME 1.234 ms" → (prefix + NAME, 1.234).</summary>
    private static (string, double) Entry(string entry, string prefix)
    {
        string[] words = entry.Trim().Split(' ');
        if (words.Length < 3 || words[^1] != "ms" || !double.TryParse(words[^2], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms))
        {
            throw new InvalidOperationException($"start phases entry \"{entry}\" is not \"NAME N ms\"");
        }

        return (prefix + string.Join(' ', words[..^2]), ms);
    }
}
