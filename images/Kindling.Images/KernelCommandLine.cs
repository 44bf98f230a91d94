using System.Text;

namespace Kindling.Images;

/// <summary>
/// Builds the guest kernel command line: <c>console=ttyS0 reboot=k panic=1 pci=off</c>, the kindling.* options
/// init and the agent read (kindling.base, kindling.overlay, kindling.mmds, kindling.agent=1), and anything added.
/// No root= is given: the initramfs builds the root. The VMM appends its virtio_mmio.device= entries.
/// </summary>
public sealed class KernelCommandLine
{
    /// <summary>x86 COMMAND_LINE_SIZE, including the terminating NUL.</summary>
    public const int MaxLength = 2048;

    /// <summary>Room left for the VMM's virtio_mmio.device= entries (about 48 bytes each).</summary>
    public const int ReservedForVmm = 512;

    private readonly List<KeyValuePair<string, string?>> _options =
    [
        new("console", "ttyS0"),
        new("reboot", "k"),
        new("panic", "1"),
        new("pci", "off"),
        new("kindling.agent", "1"),
    ];

    public KernelCommandLine WithBaseDevice(string device) => Set("kindling.base", device);

    public KernelCommandLine WithOverlayDevice(string device) => Set("kindling.overlay", device);

    /// <summary>No drives: the agent runs from the initramfs.</summary>
    public KernelCommandLine WithoutDrives() => Set("kindling.base", "none").Set("kindling.overlay", "none");

    public KernelCommandLine WithMmdsAddress(string address) => Set("kindling.mmds", address);

    /// <summary>How long the agent waits for each metadata-service request (default 10 s).</summary>
    public KernelCommandLine WithHttpTimeout(int seconds) =>
        Set("kindling.http_timeout", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The agent's request timeout on hosts whose KVM emulates guest kernel code (every process start costs seconds).</summary>
    public const int EmulatedHostHttpTimeoutSeconds = 120;

    /// <summary>
    /// What a guest needs on a host whose KVM emulates guest kernel code: the agent's longer request timeout and
    /// the words <paramref name="kernel"/> asks for there (<see cref="KernelArtifacts.EmulatedHostBootArgs"/>).
    /// </summary>
    public KernelCommandLine ForEmulatedHost(KernelArtifacts kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        WithHttpTimeout(EmulatedHostHttpTimeoutSeconds);
        foreach (string word in kernel.EmulatedHostBootArgs)
        {
            string[] kv = word.Split('=', 2);
            Set(kv[0], kv.Length > 1 ? kv[1] : null);
        }

        return this;
    }

    /// <summary>Sets (or replaces) KEY=VALUE, or a bare KEY when <paramref name="value"/> is null.</summary>
    public KernelCommandLine Set(string key, string? value)
    {
        Validate(key, nameof(key));
        if (value is not null)
        {
            Validate(value, nameof(value));
        }

        int i = _options.FindIndex(o => o.Key == key);
        if (i >= 0)
        {
            _options[i] = new(key, value);
        }
        else
        {
            _options.Add(new(key, value));
        }

        return this;
    }

    public override string ToString() => Build();

    public string Build()
    {
        StringBuilder sb = new();
        foreach ((string k, string? v) in _options)
        {
            if (sb.Length > 0)
            {
                sb.Append(' ');
            }

            sb.Append(k);
            if (v is not null)
            {
                sb.Append('=').Append(v);
            }
        }

        if (sb.Length + 1 > MaxLength - ReservedForVmm)
        {
            throw new ImageBuildException($"kernel command line is {sb.Length} bytes; at most {MaxLength - ReservedForVmm - 1} leave room for the VMM's device entries");
        }

        return sb.ToString();
    }

    private static void Validate(string s, string what)
    {
        if (s.Length == 0 || s.Any(c => c <= ' ' || c == '"' || c > '~'))
        {
            throw new ArgumentException($"kernel command line {what} '{s}' must be non-empty printable ASCII without spaces or quotes", what);
        }
    }
}
