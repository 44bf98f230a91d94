using System.Text;

namespace Kindling.Vmm.Machine;

/// <summary>
/// The guest kernel command line, built from the configured boot_args plus what devices add at integration
/// (<c>virtio_mmio.device=4K@0xd0000000:5</c>, CPU-template flags). Limited to what fits the boot protocol's
/// command-line buffer including its terminating NUL.
/// </summary>
public sealed class KernelCommandLine
{
    /// <summary>BootLayout.CmdlineMaxSize (4096) minus the NUL.</summary>
    public const int MaxLength = 4095;

    private readonly StringBuilder _text = new();

    public KernelCommandLine(string? initial = null)
    {
        if (!string.IsNullOrWhiteSpace(initial))
        {
            Append(initial.Trim());
        }
    }

    public int Length => _text.Length;

    /// <summary>Appends one or more space-separated parameters.</summary>
    public KernelCommandLine Append(string parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        string trimmed = parameters.Trim();
        if (trimmed.Length == 0)
        {
            return this;
        }

        foreach (char c in trimmed)
        {
            if (c == '\0' || c == '\n' || c == '\r' || c > '\x7e')
            {
                throw new ArgumentException($"kernel command line parameter \"{trimmed}\" contains a NUL, newline or non-ASCII character", nameof(parameters));
            }
        }

        int added = (_text.Length == 0 ? 0 : 1) + trimmed.Length;
        if (_text.Length + added > MaxLength)
        {
            throw new ArgumentException(
                $"kernel command line would be {_text.Length + added} bytes with \"{trimmed}\"; the limit is {MaxLength}: shorten boot_args",
                nameof(parameters));
        }

        if (_text.Length > 0)
        {
            _text.Append(' ');
        }

        _text.Append(trimmed);
        return this;
    }

    /// <summary>Appends <c>key=value</c>.</summary>
    public KernelCommandLine Append(string key, string value)
    {
        if (string.IsNullOrEmpty(key) || key.Contains(' ', StringComparison.Ordinal) || key.Contains('=', StringComparison.Ordinal))
        {
            throw new ArgumentException($"kernel command line key \"{key}\" must be non-empty without spaces or '='", nameof(key));
        }

        if (value.Contains(' ', StringComparison.Ordinal) && !(value.StartsWith('"') && value.EndsWith('"')))
        {
            throw new ArgumentException($"kernel command line value for {key} contains a space; quote it", nameof(value));
        }

        return Append($"{key}={value}");
    }

    /// <summary>True when a parameter <paramref name="key"/> (bare or <c>key=...</c>) is present.</summary>
    public bool Contains(string key)
    {
        foreach (string token in _text.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token == key || token.StartsWith(key + "=", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => _text.ToString();
}
