namespace Kindling.Vmm.Boot;

/// <summary>A segment register as the vCPU should hold it (the fields of struct kvm_segment, decoded from a GDT entry).</summary>
public sealed record SegmentState(
    ulong Base,
    uint Limit,
    ushort Selector,
    byte Type,
    bool Present,
    byte Dpl,
    bool DefaultSize,
    bool Segment,
    bool Long,
    bool Granularity);
