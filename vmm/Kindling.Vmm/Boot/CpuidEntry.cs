namespace Kindling.Vmm.Boot;

/// <summary>
/// One CPUID leaf/subleaf as KVM reports and takes it (struct kvm_cpuid_entry2 without padding). <see cref="Flags"/>
/// carries KVM_CPUID_FLAG_SIGNIFCANT_INDEX when <see cref="Index"/> selects a subleaf.
/// </summary>
public readonly record struct CpuidEntry(uint Function, uint Index, uint Flags, uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, the kernel's spelling).</summary>
    public const uint FlagSignificantIndex = 1;

    public override string ToString() =>
        $"0x{Function:x8}.{Index} eax=0x{Eax:x8} ebx=0x{Ebx:x8} ecx=0x{Ecx:x8} edx=0x{Edx:x8}";
}
