using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kindling.Benchmarks.Reporting;

/// <summary>One measured figure: median (and p90 when it is a distribution), against its target when it has one.</summary>
internal sealed record BenchRow(string Name, string Unit, double Median)
{
    public double? P90 { get; init; }
    public int Runs { get; init; }

    /// <summary>The target as text, e.g. "<= 0.75x qemu".</summary>
    public string? Target { get; init; }

    public bool? Ok { get; init; }
    public string? Note { get; init; }

    /// <summary>Why the figure could not be measured (the variant failed); the row is then printed as failed.</summary>
    public string? Failure { get; init; }

    /// <summary>Why the figure cannot be measured on this host (no KVM): printed as SKIPPED, not a failure.</summary>
    public string? Skip { get; init; }
}

/// <summary>
/// A suite's results: printed as a table and written as JSON to artifacts/bench/&lt;suite&gt;.json (plus one
/// <c>BENCH-JSON</c> line on stdout), with the machine's load before and after, since this host is shared.
/// </summary>
internal sealed class BenchReport(string suite)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "→" stays readable
    };

    private readonly string _loadBefore = LoadAverage();
    private readonly List<BenchRow> _rows = [];
    private readonly List<string> _notes = [];

    public string Suite { get; } = suite;

    public IReadOnlyList<BenchRow> Rows => _rows;

    public BenchRow Add(BenchRow row)
    {
        _rows.Add(row);
        return row;
    }

    public void Note(string note) => _notes.Add(note);

    /// <summary>
    /// A figure that could not be measured because its variant failed: printed (marked FAILED, with the reason)
    /// so that its target is not silently dropped, and it makes the suite exit non-zero.
    /// </summary>
    public BenchRow Failed(string name, string unit, string? target, string why) =>
        Add(new BenchRow(name, unit, double.NaN) { Target = target, Ok = false, Failure = why });

    /// <summary>A target this host cannot measure (e.g. one that needs KVM): printed as SKIPPED with the reason.</summary>
    public BenchRow Skipped(string name, string unit, string target, string why) =>
        Add(new BenchRow(name, unit, double.NaN) { Target = target, Skip = why });

    /// <summary>0 when every figure was measured and met its target; 1 when a target was missed or a variant failed.</summary>
    public int ExitCode => _rows.Any(r => r.Ok == false) ? 1 : 0;

    /// <summary>Prints the table, writes the JSON file; returns its path.</summary>
    public string Finish(string artifactsDirectory)
    {
        string loadAfter = LoadAverage();
        Console.WriteLine();
        Console.WriteLine($"== {Suite} ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load {_loadBefore} -> {loadAfter})");
        Console.WriteLine($"{"figure",-62} {"median",10} {"p90",10} {"n",4}  {"unit",-8} {"target",-22} ok");
        foreach (BenchRow r in _rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name,-62} {Format(r.Median),10} {(r.P90 is { } p ? Format(p) : ""),10} {(r.Runs > 0 ? r.Runs.ToString(CultureInfo.InvariantCulture) : ""),4}  {r.Unit,-8} {r.Target ?? "",-22} {(r.Failure is not null ? "FAILED" : r.Skip is not null ? "SKIPPED" : r.Ok is { } ok ? (ok ? "yes" : "MISSED") : "")}"));
            if (r.Failure is { } failure)
            {
                Console.WriteLine($"    failed: {failure}");
            }

            if (r.Skip is { } skip)
            {
                Console.WriteLine($"    skipped: {skip}");
            }

            if (r.Note is { } note)
            {
                Console.WriteLine($"    {note}");
            }
        }

        foreach (string note in _notes)
        {
            Console.WriteLine($"  note: {note}");
        }

        var summary = new
        {
            Suite,
            Date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Machine = new { Host = Environment.MachineName, Cores = Environment.ProcessorCount, Kernel = Environment.OSVersion.VersionString, LoadBefore = _loadBefore, LoadAfter = loadAfter },
            Rows = _rows.Select(r => new { r.Name, r.Unit, Median = Round(r.Median), P90 = r.P90 is { } p ? Round(p) : (double?)null, Runs = r.Runs > 0 ? r.Runs : (int?)null, r.Target, r.Ok, r.Note, r.Failure, r.Skip }),
            Notes = _notes,
        };
        string path = Path.Combine(artifactsDirectory, $"{Suite}.json");
        string json = JsonSerializer.Serialize(summary, Json);
        File.WriteAllText(path, json);
        Console.WriteLine($"BENCH-JSON {path}");
        if (ExitCode != 0)
        {
            Console.WriteLine($"{Suite}: {_rows.Count(r => r.Ok == false)} figure(s) missed their target or failed");
        }

        return path;
    }

    private static double Round(double x) => double.IsFinite(x) ? Math.Round(x, x >= 100 ? 1 : 3) : x;

    private static string Format(double x) => x switch
    {
        double.NaN => "-",
        >= 1000 => x.ToString("N0", CultureInfo.InvariantCulture),
        >= 100 => x.ToString("F1", CultureInfo.InvariantCulture),
        _ => x.ToString("F2", CultureInfo.InvariantCulture),
    };

    /// <summary>The 1-minute load average from /proc/loadavg.</summary>
    public static string LoadAverage()
    {
        try
        {
            string[] parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]}";
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
