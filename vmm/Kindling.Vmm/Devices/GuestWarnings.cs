using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Devices;

/// <summary>
/// Warnings a guest can trigger at will (a malformed descriptor chain, a bad register access), counted and
/// rate-limited so that a guest cannot flood the host's log: the first occurrence of each warning (keyed by its
/// message template) is logged in full; later ones are counted, and once per <see cref="Interval"/> a summary
/// "N more ... since T" is logged while they keep coming. A warning quiet for a whole interval is logged in full
/// again the next time. Every device log site a guest can reach goes through one of these.
/// </summary>
public sealed partial class GuestWarnings
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Window> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _totals = new(StringComparer.Ordinal);
    private ITimer? _timer;

    public GuestWarnings(ILogger? logger, TimeProvider? time = null, TimeSpan? interval = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        Interval = interval ?? DefaultInterval;
    }

    /// <summary>How often a summary of suppressed warnings is logged.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Occurrences of each warning (by template) since this was created, logged or not.</summary>
    public IReadOnlyDictionary<string, long> Totals
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, long>(_totals, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Counts one occurrence; logs it when it is the first of its kind in this interval.</summary>
    public void Warn(string template, params object?[] args)
    {
        lock (_gate)
        {
            _totals[template] = _totals.GetValueOrDefault(template) + 1;
            if (_open.TryGetValue(template, out Window? window))
            {
                window.Suppressed++;
                return;
            }

            _open[template] = new Window(_time.GetUtcNow());
            _timer ??= _time.CreateTimer(_ => Summarise(), null, Interval, Interval);
        }

#pragma warning disable CA2254, CA1848 // The template is the caller's constant message template, passed through:
        // a [LoggerMessage] needs its template at compile time, and this runs once per warning per interval.
        _logger.LogWarning(template, args);
#pragma warning restore CA2254, CA1848
    }

    private void Summarise()
    {
        var summaries = new List<(string Template, long Count, DateTimeOffset Since)>();
        lock (_gate)
        {
            DateTimeOffset now = _time.GetUtcNow();
            foreach ((string template, Window window) in _open.ToArray())
            {
                if (window.Suppressed == 0)
                {
                    _open.Remove(template);
                    continue;
                }

                summaries.Add((template, window.Suppressed, window.Since));
                _open[template] = new Window(now);
            }

            if (_open.Count == 0)
            {
                _timer?.Dispose();
                _timer = null;
            }
        }

        foreach ((string template, long count, DateTimeOffset since) in summaries)
        {
            LogSummary(_logger, count, template, since, Interval);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} more \"{Warning}\" since {Since:O} (guest-triggered warnings are logged once, then summarised every {Interval})")]
    private static partial void LogSummary(ILogger logger, long count, string warning, DateTimeOffset since, TimeSpan interval);

    private sealed class Window(DateTimeOffset since)
    {
        public DateTimeOffset Since { get; } = since;

        public long Suppressed { get; set; }
    }
}
