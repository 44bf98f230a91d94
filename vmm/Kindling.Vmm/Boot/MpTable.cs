using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// Writes an Intel MP Specification 1.4 table at <see cref="BootLayout.MpTableStart"/> (Firecracker's layout): the
/// floating pointer, then the configuration table with one processor entry per vCPU, the ISA bus, the I/O APIC,
/// I/O interrupt entries for IRQ 0–23 (KVM's default routing) and the ExtINT/NMI local interrupts. Linux finds it
/// by scanning the last KiB of base memory, and learns from it how many CPUs to start.
/// </summary>
/// <remarks>
/// The header carries both the base table length and the entry count (MP spec 1.4 table 4-2, "ENTRY COUNT" at
/// offset 0x22, Linux's <c>mpc_table.oemcount</c>). Linux walks the entries by length only, which is why a table
/// with a zero count (Firecracker writes one) still boots Linux; other readers (the spec's own algorithm, SeaBIOS
/// tables' consumers, our smp test guest) stop after "entry count" entries, so both are filled.
/// </remarks>
public static class MpTable
{
    public const byte MpProcessor = 0, MpBus = 1, MpIoapic = 2, MpIntsrc = 3, MpLintsrc = 4;
    public const byte CpuEnabled = 1, CpuBootProcessor = 2;
    public const byte MpcApicUsable = 1;

    /// <summary>enum mp_irq_source_types.</summary>
    public const byte MpInt = 0, MpNmi = 1, MpExtInt = 3;

    /// <summary>MP_IRQPOL_DEFAULT | MP_IRQTRIG_DEFAULT: conforms to the bus.</summary>
    public const ushort MpIrqDefault = 0;

    /// <summary>MP specification revision 1.4.</summary>
    public const byte SpecRevision = 4;

    public const uint IoApicDefaultPhysBase = 0xfec0_0000;
    public const uint ApicDefaultPhysBase = 0xfee0_0000;
    public const byte ApicVersion = 0x14;

    /// <summary>CPU signature in processor entries: family 6.</summary>
    public const uint CpuStepping = 0x600;
    public const uint CpuFeatureFpu = 1 << 0, CpuFeatureApic = 1 << 9;

    /// <summary>IRQs 0..IrqMax are routed through the I/O APIC's pins of the same number.</summary>
    public const int IrqMax = 23;

    /// <summary>Local APIC IDs are bytes and 0xff is broadcast.</summary>
    public const int MaxVcpus = 254;

    /// <summary>Destination APIC ID meaning "all local APICs".</summary>
    public const byte AllApics = 0xff;

    public static ReadOnlySpan<byte> FloatingSignature => "_MP_"u8;
    public static ReadOnlySpan<byte> TableSignature => "PCMP"u8;
    private static ReadOnlySpan<byte> OemId => "KINDLING"u8;
    private static ReadOnlySpan<byte> ProductId => "KINDLING-VMM"u8;
    private static ReadOnlySpan<byte> BusTypeIsa => "ISA   "u8;

    /// <summary>Bytes the table takes for <paramref name="vcpuCount"/> vCPUs.</summary>
    public static int Size(int vcpuCount) =>
        Unsafe.SizeOf<MpfIntel>() + Unsafe.SizeOf<MpcTable>() + (vcpuCount * Unsafe.SizeOf<MpcCpu>()) +
        Unsafe.SizeOf<MpcBus>() + Unsafe.SizeOf<MpcIoapic>() + ((IrqMax + 1) * Unsafe.SizeOf<MpcIntsrc>()) +
        (2 * Unsafe.SizeOf<MpcLintsrc>());

    // SAFETY: unsafe only for sizeof of the MP table structs and their fixed-size signature arrays, indexed within their length; the table reaches guest memory through IGuestMemory's checked accessors after the range check below.
    public static unsafe void Write(IGuestMemory memory, int vcpuCount)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (vcpuCount is < 1 or > MaxVcpus)
        {
            throw new BootException($"vcpu_count {vcpuCount} is out of range for the MP table: use 1..{MaxVcpus}");
        }

        int size = Size(vcpuCount);
        var start = new GuestAddress(BootLayout.MpTableStart);
        if (!memory.IsValidRange(start, (ulong)size))
        {
            throw new BootException(
                $"guest RAM ({GuestMemoryText.Describe(memory)}) cannot hold the {size}-byte MP table at {start}");
        }

        byte[] table = new byte[size];
        int offset = 0;
        byte ioApicId = (byte)(vcpuCount + 1);

        // SAFETY: the spans below cover fixed buffers of locals with exactly the buffers' declared lengths.
        var mpf = default(MpfIntel);
        FloatingSignature.CopyTo(new Span<byte>(mpf.Signature, 4));
        mpf.PhysPtr = (uint)(BootLayout.MpTableStart + (ulong)Unsafe.SizeOf<MpfIntel>());
        mpf.Length = 1; // in 16-byte paragraphs
        mpf.Specification = SpecRevision;
        Put(table, ref offset, mpf);
        table[(int)Marshal.OffsetOf<MpfIntel>(nameof(MpfIntel.Checksum))] = Checksum(table.AsSpan(0, Unsafe.SizeOf<MpfIntel>()));

        int tableStart = offset;
        offset += Unsafe.SizeOf<MpcTable>();
        int entries = 0;
        for (int cpu = 0; cpu < vcpuCount; cpu++)
        {
            var entry = new MpcCpu
            {
                Type = MpProcessor,
                ApicId = (byte)cpu,
                ApicVer = ApicVersion,
                CpuFlag = (byte)(CpuEnabled | (cpu == 0 ? CpuBootProcessor : 0)),
                CpuFeature = CpuStepping,
                FeatureFlag = CpuFeatureApic | CpuFeatureFpu,
            };
            Put(table, ref offset, entry);
            entries++;
        }

        var bus = new MpcBus { Type = MpBus, BusId = 0 };
        BusTypeIsa.CopyTo(new Span<byte>(bus.BusType, 6));
        Put(table, ref offset, bus);
        entries++;
        Put(table, ref offset, new MpcIoapic
        {
            Type = MpIoapic,
            ApicId = ioApicId,
            ApicVer = ApicVersion,
            Flags = MpcApicUsable,
            ApicAddr = IoApicDefaultPhysBase,
        });
        entries++;
        for (int irq = 0; irq <= IrqMax; irq++)
        {
            Put(table, ref offset, new MpcIntsrc
            {
                Type = MpIntsrc,
                IrqType = MpInt,
                IrqFlag = MpIrqDefault,
                SrcBus = 0,
                SrcBusIrq = (byte)irq,
                DstApic = ioApicId,
                DstIrq = (byte)irq,
            });
            entries++;
        }

        Put(table, ref offset, new MpcLintsrc { Type = MpLintsrc, IrqType = MpExtInt, IrqFlag = MpIrqDefault, DestApic = 0, DestApicLint = 0 });
        Put(table, ref offset, new MpcLintsrc { Type = MpLintsrc, IrqType = MpNmi, IrqFlag = MpIrqDefault, DestApic = AllApics, DestApicLint = 1 });
        entries += 2;

        var header = default(MpcTable);
        TableSignature.CopyTo(new Span<byte>(header.Signature, 4));
        header.Length = (ushort)(offset - tableStart);
        header.OemCount = (ushort)entries;
        header.Spec = SpecRevision;
        OemId.CopyTo(new Span<byte>(header.Oem, 8));
        ProductId.CopyTo(new Span<byte>(header.ProductId, 12));
        header.Lapic = ApicDefaultPhysBase;
        int headerOffset = tableStart;
        Put(table, ref headerOffset, header);
        table[tableStart + (int)Marshal.OffsetOf<MpcTable>(nameof(MpcTable.Checksum))] = Checksum(table.AsSpan(tableStart, offset - tableStart));

        memory.Write(start, table);
    }

    /// <summary>The byte that makes <paramref name="bytes"/> (with its checksum field still 0) sum to 0 mod 256.</summary>
    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
        {
            sum += b;
        }

        return (byte)(0 - sum);
    }

    private static void Put<T>(byte[] table, ref int offset, T value) where T : unmanaged
    {
        MemoryMarshal.Write(table.AsSpan(offset), in value);
        offset += Unsafe.SizeOf<T>();
    }
}
