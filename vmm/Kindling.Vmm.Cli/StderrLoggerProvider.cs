using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Cli;

/// <summary>
/// The VMM's console log: one line per entry on stderr, in the simple console logger's single-line shape
/// (<c>HH:mm:ss.fff warn: Category[event] message</c>). It replaces Microsoft.Extensions.Logging.Console, whose
/// set-up (dependency injection, options, configuration binding, a queue thread) was a measurable part of every
/// VMM launch; the VMM logs little, synchronously, and only at Warning and above by default.
/// </summary>
internal sealed class StderrLoggerProvider(TextWriter writer, TimeProvider time) : ILoggerProvider
{
    private readonly Lock _lock = new();

    public ILogger CreateLogger(string categoryName) => new StderrLogger(this, categoryName);

    public void Dispose()
    {
        lock (_lock)
        {
            writer.Flush();
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private void Write(LogLevel level, string category, EventId eventId, string message, Exception? exception)
    {
        string line = $"{time.GetLocalNow():HH:mm:ss.fff} {Level(level)}: {category}[{eventId.Id}] {message}";
        if (exception is not null)
        {
            line += $" {exception.ToString().ReplaceLineEndings(" ")}";
        }

        lock (_lock)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    private sealed class StderrLogger(StderrLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, eventId, formatter(state, exception), exception);
            }
        }
    }
}
