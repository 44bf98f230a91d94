namespace Kindling.Vmm.Boot;

/// <summary>The MSR values every vCPU gets before it runs (Firecracker's create_boot_msr_entries).</summary>
public static class BootMsrs
{
    public const uint MsrIa32Tsc = 0x10;
    public const uint MsrIa32SysenterCs = 0x174;
    public const uint MsrIa32SysenterEsp = 0x175;
    public const uint MsrIa32SysenterEip = 0x176;
    public const uint MsrIa32MiscEnable = 0x1a0;
    public const uint MsrMtrrDefType = 0x2ff;
    public const uint MsrStar = 0xc000_0081;
    public const uint MsrLstar = 0xc000_0082;
    public const uint MsrCstar = 0xc000_0083;
    public const uint MsrSyscallMask = 0xc000_0084;
    public const uint MsrKernelGsBase = 0xc000_0102;

    /// <summary>MSR_IA32_MISC_ENABLE_FAST_STRING (bit 0).</summary>
    public const ulong MiscEnableFastString = 1UL << 0;

    /// <summary>MTRRdefType: E (bit 11) enables the MTRRs; type 6 is write-back for everything not covered.</summary>
    public const ulong MtrrEnable = 0x800;
    public const ulong MtrrMemTypeWb = 0x6;

    public static IReadOnlyList<(uint Index, ulong Value)> Defaults { get; } =
    [
        (MsrIa32SysenterCs, 0),
        (MsrIa32SysenterEsp, 0),
        (MsrIa32SysenterEip, 0),
        (MsrStar, 0),
        (MsrCstar, 0),
        (MsrKernelGsBase, 0),
        (MsrSyscallMask, 0),
        (MsrLstar, 0),
        (MsrIa32Tsc, 0),
        (MsrIa32MiscEnable, MiscEnableFastString),
        (MsrMtrrDefType, MtrrEnable | MtrrMemTypeWb),
    ];
}
