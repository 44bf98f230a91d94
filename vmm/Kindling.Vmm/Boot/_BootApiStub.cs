// TEMPORARY stand-ins for the Boot API that wt-boot implements; this file is deleted at merge.
#pragma warning disable CA1032, CA1065, CA1002, CA1819, IDE0060
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

public enum KernelFormat { Elf, BzImage }

public sealed record LoadedKernel(KernelFormat Format, GuestAddress EntryPoint, GuestAddress LoadStart, GuestAddress LoadEnd);

public sealed class BootException : Exception
{
    public BootException(string message) : base(message)
    {
    }

    public BootException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public BootException()
    {
    }
}

public static class KernelLoader
{
    public static LoadedKernel Load(IGuestMemory memory, string path) => throw new NotImplementedException("Boot API stub");
}

public static class InitrdLoader
{
    public static GuestRegion Load(IGuestMemory memory, string path, LoadedKernel kernel) => throw new NotImplementedException("Boot API stub");
}

public enum E820Type : uint { Ram = 1, Reserved = 2 }

public readonly record struct E820Entry(ulong Address, ulong Size, E820Type Type);

public static class BootLayout
{
    public const ulong ZeroPageStart = 0x7000, BootStackPointer = 0x8ff0, Pml4Start = 0x9000, CmdlineStart = 0x20000, CmdlineMaxSize = 4096,
        HimemStart = 0x100000, MmioGapStart = 0xD000_0000, MmioGapEnd = 0x1_0000_0000, TssAddress = 0xfffb_d000, IdentityMapAddress = 0xfffb_c000;

    public static IReadOnlyList<E820Entry> BuildE820(IGuestMemory memory) => throw new NotImplementedException("Boot API stub");
}

public static class LinuxBoot
{
    public static GuestAddress WriteBootParams(IGuestMemory memory, LoadedKernel kernel, string cmdline, GuestRegion? initrd, IReadOnlyList<E820Entry> e820) =>
        throw new NotImplementedException("Boot API stub");
}

public sealed record SegmentState(ulong Base, uint Limit, ushort Selector, byte Type, bool Present, byte Dpl, bool DefaultSize, bool Segment, bool Long, bool Granularity);

public sealed record LongModeState(ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer, SegmentState Code, SegmentState Data, SegmentState Tss, ulong GdtBase, ushort GdtLimit, ulong IdtBase, ushort IdtLimit);

public static class LongMode
{
    public static LongModeState Setup(IGuestMemory memory) => throw new NotImplementedException("Boot API stub");
}

public readonly record struct CpuidEntry(uint Function, uint Index, uint Flags, uint Eax, uint Ebx, uint Ecx, uint Edx);

public enum CpuTemplate { None, Minimal, Emulated }

public static class CpuidTemplates
{
    public static CpuidEntry[] Apply(IReadOnlyList<CpuidEntry> supported, CpuTemplate template, int vcpuIndex, int vcpuCount) =>
        throw new NotImplementedException("Boot API stub");

    public static string KernelCommandLineAdditions(CpuTemplate template) => throw new NotImplementedException("Boot API stub");
}

public static class BootMsrs
{
    public static IReadOnlyList<(uint Index, ulong Value)> Defaults => throw new NotImplementedException("Boot API stub");
}

public static class MpTable
{
    public static void Write(IGuestMemory memory, int vcpuCount) => throw new NotImplementedException("Boot API stub");
}
