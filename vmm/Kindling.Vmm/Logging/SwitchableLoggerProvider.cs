using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Logging;

/// <summary>
/// A logger provider whose destination can change while loggers created from it live on: a
/// <see cref="LoggerFactory"/> cannot drop a provider, but PUT /logger may name a new log file before boot (and a
/// failed InstanceStart must not leave the VMM bound to the old one). Owns the current provider.
/// </summary>
public sealed class SwitchableLoggerProvider : ILoggerProvider
{
    private volatile ILoggerProvider? _current;

    /// <summary>The provider lines go to now; null: none.</summary>
    public ILoggerProvider? Current => _current;

    /// <summary>Sends lines to <paramref name="next"/> from now on and disposes the previous provider.</summary>
    public void Replace(ILoggerProvider? next)
    {
        ILoggerProvider? previous = Interlocked.Exchange(ref _current, next);
        if (!ReferenceEquals(previous, next))
        {
            previous?.Dispose();
        }
    }

    public ILogger CreateLogger(string categoryName) => new SwitchLogger(this, categoryName);

    public void Dispose() => Replace(null);

    private sealed class SwitchLogger(SwitchableLoggerProvider owner, string category) : ILogger
    {
        private (ILoggerProvider Provider, ILogger Logger)? _cached;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => Target()?.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => Target()?.IsEnabled(logLevel) ?? false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Target()?.Log(logLevel, eventId, state, exception, formatter);

        private ILogger? Target()
        {
            ILoggerProvider? provider = owner._current;
            if (provider is null)
            {
                return null;
            }

            (ILoggerProvider Provider, ILogger Logger)? cached = _cached;
            if (cached is { } c && ReferenceEquals(c.Provider, provider))
            {
                return c.Logger;
            }

            ILogger logger = provider.CreateLogger(category);
            _cached = (provider, logger);
            return logger;
        }
    }
}
