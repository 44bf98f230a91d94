using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

public sealed class LongModeTests
{
    private readonly FakeGuestMemory _memory = new(16 << 20);

    private ulong Read(ulong address) => _memory.Read<ulong>(new GuestAddress(address));

    [Fact]
    public void Setup_Gdt_HasFirecrackersEntries()
    {
        LongModeState s = LongMode.Setup(_memory);

        Assert.Equal(0x500UL, s.GdtBase);
        Assert.Equal(31, s.GdtLimit);
        Assert.Equal(0UL, Read(0x500));
        Assert.Equal(0x00af9b000000ffffUL, Read(0x508));
        Assert.Equal(0x00cf93000000ffffUL, Read(0x510));
        Assert.Equal(0x008f8b000000ffffUL, Read(0x518));
    }

    [Fact]
    public void Setup_Idt_OneEmptyEntry()
    {
        _memory.Write(new GuestAddress(0x520), ulong.MaxValue);

        LongModeState s = LongMode.Setup(_memory);

        Assert.Equal(0x520UL, s.IdtBase);
        Assert.Equal(7, s.IdtLimit);
        Assert.Equal(0UL, Read(0x520));
    }

    [Fact]
    public void Setup_PageTables_IdentityMapFirstGiBWith2MiBPages()
    {
        LongModeState s = LongMode.Setup(_memory);

        Assert.Equal(BootLayout.Pml4Start, s.Cr3);
        Assert.Equal(0xa003UL, Read(0x9000));
        Assert.Equal(0xb003UL, Read(0xa000));
        Assert.Equal(0x83UL, Read(0xb000));
        Assert.Equal((1UL << 21) | 0x83, Read(0xb008));
        Assert.Equal((511UL << 21) | 0x83, Read(0xb000 + (511 * 8)));
        Assert.Equal(0UL, Read(0x9008)); // nothing above 512 GiB
        Assert.Equal(0UL, Read(0xa008)); // nothing above 1 GiB
    }

    [Fact]
    public void Setup_ControlRegisters_LongModeWithPaging()
    {
        LongModeState s = LongMode.Setup(_memory);

        Assert.Equal(0x8000_0011UL, s.Cr0); // PG | ET | PE
        Assert.Equal(0x20UL, s.Cr4); // PAE
        Assert.Equal(0x500UL, s.Efer); // LMA | LME
    }

    [Fact]
    public void Setup_Segments_DecodedLikeKvmSegmentFromGdt()
    {
        LongModeState s = LongMode.Setup(_memory);

        Assert.Equal(new SegmentState(0, 0xffff_ffff, 0x8, 0xb, true, 0, false, true, true, true), s.Code);
        Assert.Equal(new SegmentState(0, 0xffff_ffff, 0x10, 0x3, true, 0, true, true, false, true), s.Data);
        Assert.Equal(new SegmentState(0, 0xffff_ffff, 0x18, 0xb, true, 0, false, false, false, true), s.Tss);
    }

    [Fact]
    public void GdtEntry_WithBase_SplitsBaseAcrossDescriptor()
    {
        ulong entry = LongMode.GdtEntry(0xc093, 0x1234_5678, 0xfffff);

        SegmentState seg = LongMode.SegmentFromGdt(entry, 2);

        Assert.Equal(0x1234_5678UL, seg.Base);
        Assert.Equal(0x12cf_9334_5678_ffffUL, entry);
    }
}
