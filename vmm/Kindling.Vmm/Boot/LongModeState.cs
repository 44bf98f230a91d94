namespace Kindling.Vmm.Boot;

/// <summary>
/// The special registers for entering a 64-bit kernel directly: control registers, EFER, the segments (data goes to
/// DS/ES/FS/GS/SS, the TSS to TR) and the descriptor tables written by <see cref="LongMode.Setup"/>.
/// </summary>
public sealed record LongModeState(
    ulong Cr0,
    ulong Cr3,
    ulong Cr4,
    ulong Efer,
    SegmentState Code,
    SegmentState Data,
    SegmentState Tss,
    ulong GdtBase,
    ushort GdtLimit,
    ulong IdtBase,
    ushort IdtLimit);
