using System.Text;
using Kindling.Vmm.Config;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Logging;

/// <summary>
/// The VMM's own log as Firecracker's <c>logger</c> section describes it: lines to <c>log_path</c> (file or FIFO),
/// filtered by <c>level</c> and <c>module</c> (a category prefix), optionally showing the level and the origin
/// (the logging category).
/// </summary>
public sealed class VmmLoggerProvider : ILoggerProvider
{
    private readonly LineSink _sink;
    private readonly LoggerConfig _config;
    private readonly string _instanceId;
    private readonly TimeProvider _time;

    public VmmLoggerProvider(LoggerConfig config, string instanceId, TimeProvider time)
    {
        VmConfigValidator.Validate(config);
        _config = config;
        _instanceId = instanceId;
        _time = time;
        MinimumLevel = ParseLevel(config.Level);
        _sink = new LineSink(config.LogPath ?? throw new VmConfigException("logger.log_path is missing"), time);
    }

    public LogLevel MinimumLevel { get; }

    public ILogger CreateLogger(string categoryName) => new VmmLogger(this, categoryName);

    public void Dispose()
    {
        _sink.Flush(TimeSpan.FromSeconds(2));
        _sink.Dispose();
    }

    /// <summary>Firecracker's level names (case-insensitive); absent: Info.</summary>
    public static LogLevel ParseLevel(string? level) => level?.ToUpperInvariant() switch
    {
        null or "INFO" => LogLevel.Information,
        "ERROR" => LogLevel.Error,
        "WARNING" => LogLevel.Warning,
        "DEBUG" => LogLevel.Debug,
        "TRACE" => LogLevel.Trace,
        "OFF" => LogLevel.None,
        _ => throw new VmConfigException($"logger.level \"{level}\" is unknown; use one of {string.Join(", ", VmConfigValidator.LogLevels)}"),
    };

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "Trace",
        LogLevel.Debug => "Debug",
        LogLevel.Information => "Info",
        LogLevel.Warning => "Warn",
        LogLevel.Error => "Error",
        LogLevel.Critical => "Error",
        _ => "Off",
    };

    private bool IsEnabled(LogLevel level, string category) =>
        level != LogLevel.None && level >= MinimumLevel
        && (_config.Module is null || category.StartsWith(_config.Module, StringComparison.Ordinal));

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var line = new StringBuilder();
        line.Append(_time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        line.Append(" [").Append(_instanceId).Append(']');
        if (_config.ShowLevel)
        {
            line.Append(" [").Append(LevelName(level)).Append(']');
        }

        if (_config.ShowLogOrigin)
        {
            line.Append(" [").Append(category).Append(']');
        }

        line.Append(' ').Append(message.ReplaceLineEndings(" "));
        if (exception is not null)
        {
            line.Append(": ").Append(exception.GetType().Name).Append(": ").Append(exception.Message.ReplaceLineEndings(" "));
        }

        _sink.WriteLine(line.ToString());
    }

    private sealed class VmmLogger(VmmLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => provider.IsEnabled(logLevel, category);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }
}
