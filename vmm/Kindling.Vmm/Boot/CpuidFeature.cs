namespace Kindling.Vmm.Boot;

/// <summary>A CPUID output register.</summary>
public enum CpuidRegister
{
    Eax,
    Ebx,
    Ecx,
    Edx,
}

/// <summary>One CPUID feature bit: where it lives (leaf, subleaf, register, bit) and its name in the Intel SDM / Linux cpufeatures.h.</summary>
public readonly record struct CpuidFeature(string Name, uint Leaf, uint Subleaf, CpuidRegister Register, int Bit)
{
    public uint Mask => 1u << Bit;

    /// <summary>True when <paramref name="entry"/> is the leaf/subleaf that holds this bit.</summary>
    public bool AppliesTo(CpuidEntry entry) => entry.Function == Leaf && entry.Index == Subleaf;

    public bool IsSet(CpuidEntry entry) => AppliesTo(entry) && (Read(entry) & Mask) != 0;

    /// <summary><paramref name="entry"/> with this bit set or cleared (unchanged when it is another leaf).</summary>
    public CpuidEntry With(CpuidEntry entry, bool value)
    {
        if (!AppliesTo(entry))
        {
            return entry;
        }

        uint updated = value ? Read(entry) | Mask : Read(entry) & ~Mask;
        return Register switch
        {
            CpuidRegister.Eax => entry with { Eax = updated },
            CpuidRegister.Ebx => entry with { Ebx = updated },
            CpuidRegister.Ecx => entry with { Ecx = updated },
            _ => entry with { Edx = updated },
        };
    }

    private uint Read(CpuidEntry entry) => Register switch
    {
        CpuidRegister.Eax => entry.Eax,
        CpuidRegister.Ebx => entry.Ebx,
        CpuidRegister.Ecx => entry.Ecx,
        _ => entry.Edx,
    };

    public override string ToString() => $"{Name} (0x{Leaf:x}.{Subleaf} {Register}[{Bit}])";
}
