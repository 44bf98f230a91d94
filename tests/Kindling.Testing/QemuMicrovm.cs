namespace Kindling.Testing;

/// <summary>
/// A QEMU <c>microvm</c> (TCG) run of a test guest: the independent implementation the guests are checked against.
/// QEMU enters the guest through its PVH note and puts modern (version 2) virtio-mmio transports at
/// 0xfeb00000 + 512·i, which the guest scans. The guest ends through isa-debug-exit, so QEMU's exit status is
/// <see cref="PassExitCode"/> or <see cref="FailExitCode"/>.
/// </summary>
public sealed class QemuMicrovm(string kernelPath, string append)
{
    public const string Binary = "qemu-system-x86_64";

    /// <summary>isa-debug-exit: QEMU exits with (value &lt;&lt; 1) | 1; the guest writes 0 after PASS.</summary>
    public const int PassExitCode = 1;

    /// <summary>The guest writes 1 after FAIL.</summary>
    public const int FailExitCode = 3;

    private readonly List<string> _devices = [];
    private int _deviceCount;

    public int Cpus { get; init; } = 1;
    public int MemoryMib { get; init; } = 128;

    /// <summary>
    /// With ACPI (QEMU's default) the virtio transports sit on a second IOAPIC and the guest finds them by scanning
    /// (and polls). Without it QEMU puts 8 transports on GSIs 5..12 of the one IOAPIC and adds
    /// <c>virtio_mmio.device=512@0x...:GSI</c> words to the command line, as kindling-vmm does, so the guest takes
    /// used-buffer interrupts through the IOAPIC.
    /// </summary>
    public bool Acpi { get; init; } = true;

    /// <summary>False stops QEMU adding the <c>virtio_mmio.device=</c> words (only matters without ACPI).</summary>
    public bool AutoKernelCmdline { get; init; } = true;

    /// <summary>Modern (version 2) virtio-mmio transports; false leaves QEMU's legacy default (version 1).</summary>
    public bool ModernVirtio { get; init; } = true;

    /// <summary>A virtio-blk device over a raw image file.</summary>
    public QemuMicrovm AddDrive(string path, bool readOnly)
    {
        string id = $"drive{_deviceCount++}";
        _devices.AddRange(["-drive", $"file={path},format=raw,if=none,id={id}{(readOnly ? ",readonly=on" : "")}",
            "-device", $"virtio-blk-device,drive={id}"]);
        return this;
    }

    /// <summary>A virtio-rng device fed from the host's /dev/urandom.</summary>
    public QemuMicrovm AddRng()
    {
        string id = $"rng{_deviceCount++}";
        _devices.AddRange(["-object", $"rng-random,id={id},filename=/dev/urandom", "-device", $"virtio-rng-device,rng={id}"]);
        return this;
    }

    /// <summary>A virtio-net device whose frames travel as UDP datagrams between two loopback ports.</summary>
    public QemuMicrovm AddNetUdp(int qemuPort, int peerPort, string mac)
    {
        string id = $"net{_deviceCount++}";
        _devices.AddRange(["-netdev",
            $"dgram,id={id},local.type=inet,local.host=127.0.0.1,local.port={qemuPort},remote.type=inet,remote.host=127.0.0.1,remote.port={peerPort}",
            "-device", $"virtio-net-device,netdev={id},mac={mac}"]);
        return this;
    }

    /// <summary>A virtio-net device on an existing host TAP device (needs root).</summary>
    public QemuMicrovm AddNetTap(string tapName, string mac)
    {
        string id = $"net{_deviceCount++}";
        _devices.AddRange(["-netdev", $"tap,id={id},ifname={tapName},script=no,downscript=no",
            "-device", $"virtio-net-device,netdev={id},mac={mac}"]);
        return this;
    }

    public IReadOnlyList<string> Arguments() =>
    [
        "-M", "microvm" + (Acpi ? "" : ",acpi=off") + (AutoKernelCmdline ? "" : ",auto-kernel-cmdline=off"), "-accel", "tcg", "-cpu", "max", "-smp", Cpus.ToString(), "-m", MemoryMib.ToString(),
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        .. (ModernVirtio ? (string[])["-global", "virtio-mmio.force-legacy=false"] : []),
        "-kernel", kernelPath, "-append", append,
        .. _devices,
    ];

    public Task<GuestRunResult> RunAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        GuestProcess.RunAsync(Binary, Arguments(), timeout, cancellationToken);
}
