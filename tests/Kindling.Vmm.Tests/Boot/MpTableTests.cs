using System.Buffers.Binary;
using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

public sealed class MpTableTests
{
    private readonly FakeGuestMemory _memory = new(16 << 20);

    private static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
        {
            sum += b;
        }

        return sum;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(32)]
    public void Write_FloatingPointerAndTable_SignaturesAndChecksumsValid(int vcpus)
    {
        MpTable.Write(_memory, vcpus);

        Span<byte> mpf = _memory.GetSpan(new GuestAddress(0x9fc00), 16);
        Assert.Equal("_MP_"u8.ToArray(), mpf[..4].ToArray());
        Assert.Equal(0, Sum(mpf));
        Assert.Equal(1, mpf[8]); // length in paragraphs
        Assert.Equal(4, mpf[9]); // spec 1.4
        uint tableAddress = BinaryPrimitives.ReadUInt32LittleEndian(mpf[4..]);
        Assert.Equal(0x9fc10u, tableAddress);

        Span<byte> header = _memory.GetSpan(new GuestAddress(tableAddress), 44);
        Assert.Equal("PCMP"u8.ToArray(), header[..4].ToArray());
        ushort length = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        Assert.Equal(MpTable.Size(vcpus) - 16, length);
        Assert.Equal(0, Sum(_memory.GetSpan(new GuestAddress(tableAddress), length)));
        Assert.Equal(0xfee0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(header[36..]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(32)]
    public void Write_EntryCount_CoversTheBaseTableExactly(int vcpus)
    {
        MpTable.Write(_memory, vcpus);

        // MP spec 1.4 table 4-2: ENTRY COUNT at 0x22; processor entries are 20 bytes, all others 8.
        Span<byte> header = _memory.GetSpan(new GuestAddress(0x9fc10), 44);
        ushort length = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        ushort count = BinaryPrimitives.ReadUInt16LittleEndian(header[0x22..]);
        Assert.Equal(vcpus + 1 + 1 + 24 + 2, count);
        int offset = 44, processors = 0;
        for (int i = 0; i < count; i++)
        {
            byte type = _memory.GetSpan(new GuestAddress((ulong)(0x9fc10 + offset)), 1)[0];
            processors += type == MpTable.MpProcessor ? 1 : 0;
            offset += type == MpTable.MpProcessor ? 20 : 8;
        }

        Assert.Equal(length, offset);
        Assert.Equal(vcpus, processors);
    }

    [Fact]
    public void Write_FourVcpus_OneProcessorEntryEachBspFirst()
    {
        MpTable.Write(_memory, 4);

        Span<byte> cpus = _memory.GetSpan(new GuestAddress(0x9fc10 + 44), 4 * 20);
        for (int i = 0; i < 4; i++)
        {
            Span<byte> cpu = cpus.Slice(i * 20, 20);
            Assert.Equal(MpTable.MpProcessor, cpu[0]);
            Assert.Equal(i, cpu[1]); // APIC ID
            Assert.Equal(i == 0 ? 3 : 1, cpu[3]); // enabled, BSP on the first
        }

        Span<byte> after = _memory.GetSpan(new GuestAddress(0x9fc10 + 44 + (4 * 20)), 8);
        Assert.Equal(MpTable.MpBus, after[0]);
        Assert.Equal("ISA   "u8.ToArray(), after[2..8].ToArray());
    }

    [Fact]
    public void Write_TwoVcpus_IoApicAndInterruptEntries()
    {
        MpTable.Write(_memory, 2);

        int offset = 0x9fc10 + 44 + (2 * 20) + 8;
        Span<byte> ioapic = _memory.GetSpan(new GuestAddress((ulong)offset), 8);
        Assert.Equal(MpTable.MpIoapic, ioapic[0]);
        Assert.Equal(3, ioapic[1]); // I/O APIC ID after the CPUs
        Assert.Equal(0xfec0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(ioapic[4..]));
        for (int irq = 0; irq < 24; irq++)
        {
            Span<byte> src = _memory.GetSpan(new GuestAddress((ulong)(offset + 8 + (irq * 8))), 8);
            Assert.Equal(MpTable.MpIntsrc, src[0]);
            Assert.Equal(irq, src[5]);
            Assert.Equal(3, src[6]);
            Assert.Equal(irq, src[7]);
        }

        Span<byte> lint = _memory.GetSpan(new GuestAddress((ulong)(offset + 8 + (24 * 8))), 16);
        Assert.Equal([MpTable.MpLintsrc, MpTable.MpExtInt], lint[..2].ToArray());
        Assert.Equal([MpTable.MpLintsrc, MpTable.MpNmi], lint[8..10].ToArray());
        Assert.Equal(0xff, lint[14]);
        Assert.Equal(1, lint[15]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(255)]
    public void Write_VcpuCountOutOfRange_Rejected(int vcpus)
    {
        Assert.Throws<BootException>(() => MpTable.Write(_memory, vcpus));
    }
}
