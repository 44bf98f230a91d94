using System.Text;

namespace Kindling.Vmm.Contract;

/// <summary>
/// The guest kernel command line, one type for every side that writes it: the images build the guest's words
/// (Kindling.Images.GuestCommandLine: console, kindling.*), the runner hands them to the VMM as boot_args, and the
/// VMM appends what its devices need at integration (<c>virtio_mmio.device=4K@0xd0000000:5</c>, CPU-template
/// words). Parameters are kept in order, separated by single spaces; <see cref="Set"/> replaces a parameter of the
/// same key, <see cref="Append(string)"/> never does (the VMM adds one <c>virtio_mmio.device=</c> per device).
/// </summary>
/// <remarks>
/// <para>
/// <b>The one limit, <see cref="MaxLength"/> = 2047 bytes.</b> x86 Linux copies the command line into
/// <c>boot_command_line[COMMAND_LINE_SIZE]</c> (arch/x86/include/asm/setup.h: <c>COMMAND_LINE_SIZE 2048</c>, the
/// terminating NUL included) and silently cuts whatever does not fit. Boot protocol 2.06 and later publish the same
/// number in the bzImage setup header as <c>cmdline_size</c>, the longest command line without its NUL: 2047 in
/// every x86-64 kernel we boot (Debian's 6.1 cloud kernel, and ours built from the same configuration). An ELF
/// vmlinux has no setup header but is the same kernel, cut at the same place. The VMM's 4 KiB command-line area
/// (BootLayout.CmdlineMaxSize) is only where the text is written: the 4095 bytes it holds were accepted before and
/// then truncated by the kernel without a word, losing the VMM's own device entries at the end. The VMM still honours
/// a bzImage's <c>cmdline_size</c> where it is smaller (an old or 32-bit kernel).
/// </para>
/// <para>
/// <see cref="ReservedForVmm"/> of those bytes belong to the VMM: a command line built as boot_args
/// (<see cref="ToBootArgs"/>) must leave them free.
/// </para>
/// </remarks>
public sealed class KernelCommandLine
{
    /// <summary>x86 <c>COMMAND_LINE_SIZE</c>: the kernel's command-line buffer, the terminating NUL included.</summary>
    public const int Size = 2048;

    /// <summary>The longest command line, without its NUL (a bzImage's <c>cmdline_size</c>).</summary>
    public const int MaxLength = Size - 1;

    /// <summary>
    /// What boot_args leave for the VMM's additions: a <c>virtio_mmio.device=</c> entry per device (about 48 bytes
    /// each: two drives, a NIC, vsock, entropy) and the emulated CPU template's words (about 300 bytes).
    /// </summary>
    public const int ReservedForVmm = 512;

    private readonly List<string> _parameters = [];
    private int _length;

    /// <summary>An empty command line, or the parameters of <paramref name="initial"/> (as <see cref="Append(string)"/>).</summary>
    public KernelCommandLine(string? initial = null)
    {
        if (!string.IsNullOrWhiteSpace(initial))
        {
            Append(initial);
        }
    }

    /// <summary>The length in bytes of <see cref="ToString"/> (the text is ASCII), without the NUL.</summary>
    public int Length => _length;

    /// <summary>
    /// Appends one or more space-separated parameters (a double-quoted value may hold spaces). Throws naming the
    /// limit when the result would not fit, and leaves the command line as it was.
    /// </summary>
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

        List<string> words = Split(trimmed);
        int length = _length;
        foreach (string word in words)
        {
            length += (length == 0 ? 0 : 1) + word.Length;
        }

        if (length > MaxLength)
        {
            throw new ArgumentException(
                $"kernel command line would be {length} bytes with \"{trimmed}\"; the limit is {MaxLength} (x86 COMMAND_LINE_SIZE {Size} with its NUL): shorten boot_args",
                nameof(parameters));
        }

        _parameters.AddRange(words);
        _length = length;
        return this;
    }

    /// <summary>Appends <c>key=value</c>; a value with spaces must be double-quoted.</summary>
    public KernelCommandLine Append(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
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

    /// <summary>
    /// Sets <c>key=value</c> (a bare <c>key</c> when <paramref name="value"/> is null) in place of the first
    /// parameter with that key, or at the end. Key and value are printable ASCII without spaces or quotes.
    /// </summary>
    public KernelCommandLine Set(string key, string? value)
    {
        RequireWord(key, nameof(key));
        if (value is not null)
        {
            RequireWord(value, nameof(value));
        }

        string parameter = value is null ? key : $"{key}={value}";
        int i = _parameters.FindIndex(p => KeyOf(p) == key);
        if (i < 0)
        {
            return Append(parameter);
        }

        int length = _length - _parameters[i].Length + parameter.Length;
        if (length > MaxLength)
        {
            throw new ArgumentException($"kernel command line would be {length} bytes with \"{parameter}\"; the limit is {MaxLength}", nameof(value));
        }

        _parameters[i] = parameter;
        _length = length;
        return this;
    }

    /// <summary>True when a parameter <paramref name="key"/> (bare or <c>key=...</c>) is present.</summary>
    public bool Contains(string key) => _parameters.Exists(p => KeyOf(p) == key);

    /// <summary>
    /// The command line as boot_args for the VMM: throws when it leaves less than <see cref="ReservedForVmm"/>
    /// bytes for the VMM's own parameters.
    /// </summary>
    public string ToBootArgs()
    {
        if (_length > MaxLength - ReservedForVmm)
        {
            throw new InvalidOperationException(
                $"kernel command line is {_length} bytes; at most {MaxLength - ReservedForVmm} leave room for the VMM's device entries ({ReservedForVmm} of the kernel's {MaxLength})");
        }

        return ToString();
    }

    public override string ToString() => string.Join(' ', _parameters);

    private static string KeyOf(string parameter)
    {
        int eq = parameter.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? parameter : parameter[..eq];
    }

    /// <summary>Splits at spaces outside double quotes, as the kernel's next_arg does.</summary>
    private static List<string> Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool quoted = false;
        foreach (char c in text)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }

            if (c == ' ' && !quoted)
            {
                if (word.Length > 0)
                {
                    words.Add(word.ToString());
                    word.Clear();
                }

                continue;
            }

            word.Append(c);
        }

        if (word.Length > 0)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static void RequireWord(string s, string what)
    {
        if (string.IsNullOrEmpty(s) || s.Any(c => c <= ' ' || c == '"' || c > '~'))
        {
            throw new ArgumentException($"kernel command line {what} '{s}' must be non-empty printable ASCII without spaces or quotes", what);
        }
    }
}
