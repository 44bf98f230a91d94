namespace Kindling.Vmm.Cli;

/// <summary>kindling-vmm's command line, with Firecracker's flag names.</summary>
public sealed record CliArguments
{
    public const string Usage =
        "usage: kindling-vmm [--api-sock PATH | --no-api] [--config-file PATH] [--id ID] [--metadata JSON_FILE] " +
        "[--mmds-size-limit BYTES] [--log-level Off|Error|Warning|Info|Debug|Trace]";

    public string? ConfigFile { get; init; }
    public bool NoApi { get; init; }
    public string? Id { get; init; }
    public string? ApiSocket { get; init; }
    public string LogLevel { get; init; } = "Warning";
    public string? Metadata { get; init; }
    public int? MmdsSizeLimit { get; init; }
    public bool Help { get; init; }

    /// <summary>Where the API listens when neither --api-sock nor --no-api is given (Firecracker's default).</summary>
    public const string DefaultApiSocket = "/run/firecracker.socket";

    /// <summary>Parses <paramref name="args"/>; throws <see cref="CliException"/> naming the bad flag.</summary>
    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        var result = new CliArguments();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? inlineValue = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inlineValue = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }

                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new CliException($"{arg} needs a value; {Usage}");
                }

                return args[++i];
            }

            result = arg switch
            {
                "--config-file" => result with { ConfigFile = Value() },
                "--no-api" when inlineValue is null => result with { NoApi = true },
                "--id" => result with { Id = Value() },
                "--api-sock" => result with { ApiSocket = Value() },
                "--log-level" => result with { LogLevel = Value() },
                "--metadata" => result with { Metadata = Value() },
                "--mmds-size-limit" => result with { MmdsSizeLimit = ParseSizeLimit(Value()) },
                "--help" or "-h" => result with { Help = true },
                _ => throw new CliException($"unknown option {args[i]}; {Usage}"),
            };
        }

        if (result.Help)
        {
            return result;
        }

        if (result.NoApi && result.ApiSocket is not null)
        {
            throw new CliException("--no-api and --api-sock exclude each other");
        }

        if (result.NoApi && result.ConfigFile is null)
        {
            throw new CliException($"--no-api needs --config-file; {Usage}");
        }

        if (!result.NoApi && result.ApiSocket is null)
        {
            // Firecracker's default socket path.
            result = result with { ApiSocket = DefaultApiSocket };
        }

        if (result.Id is { } id && (id.Length is 0 or > 64 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
        {
            throw new CliException($"--id \"{id}\" must be 1..64 characters of A-Z a-z 0-9 - _");
        }

        ParseLogLevel(result.LogLevel);
        return result;
    }

    private static int ParseSizeLimit(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : throw new CliException($"--mmds-size-limit \"{value}\" must be a positive number of bytes");

    /// <summary>Firecracker's level names (Error, Warning, Info, Debug, Trace, Off) and .NET's.</summary>
    public static Microsoft.Extensions.Logging.LogLevel ParseLogLevel(string level) => level.ToUpperInvariant() switch
    {
        "OFF" or "NONE" => Microsoft.Extensions.Logging.LogLevel.None,
        "ERROR" => Microsoft.Extensions.Logging.LogLevel.Error,
        "WARN" or "WARNING" => Microsoft.Extensions.Logging.LogLevel.Warning,
        "INFO" or "INFORMATION" => Microsoft.Extensions.Logging.LogLevel.Information,
        "DEBUG" => Microsoft.Extensions.Logging.LogLevel.Debug,
        "TRACE" => Microsoft.Extensions.Logging.LogLevel.Trace,
        _ => throw new CliException($"--log-level \"{level}\" is unknown; use Off, Error, Warning, Info, Debug or Trace"),
    };
}

/// <summary>A command-line or configuration problem reported as one line.</summary>
public sealed class CliException : Exception
{
    public CliException(string message) : base(message)
    {
    }

    public CliException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public CliException()
    {
    }
}
