namespace Kindling.Vmm.Boot;

/// <summary>Which CPUID view the guest gets (machine-config cpu_template).</summary>
public enum CpuTemplate
{
    /// <summary>What KVM supports, with the per-vCPU topology fix-ups every guest needs.</summary>
    None,

    /// <summary><see cref="None"/> minus features a small CI guest does not need (see <see cref="CpuidTemplates"/>).</summary>
    Minimal,

    /// <summary>
    /// <see cref="Minimal"/> minus CX16 and the XSAVE family, plus a clearcpuid= command line: for hosts whose KVM
    /// emulates guest kernel code and rejects some instructions (issue 11).
    /// </summary>
    Emulated,
}
