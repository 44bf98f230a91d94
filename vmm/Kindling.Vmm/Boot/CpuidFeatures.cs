namespace Kindling.Vmm.Boot;

/// <summary>The CPUID leaves and feature bits the templates touch, named as in the Intel SDM and arch/x86/include/asm/cpufeatures.h.</summary>
public static class CpuidFeatures
{
    public const uint LeafFeatureInfo = 0x1;
    public const uint LeafCacheParameters = 0x4;
    public const uint LeafMonitorMwait = 0x5;
    public const uint LeafThermalPower = 0x6;
    public const uint LeafStructuredExtended = 0x7;
    public const uint LeafArchPerfMon = 0xa;
    public const uint LeafExtendedTopology = 0xb;
    public const uint LeafXsave = 0xd;
    public const uint LeafRdtMonitoring = 0xf;
    public const uint LeafRdtAllocation = 0x10;
    public const uint LeafSgx = 0x12;
    public const uint LeafProcessorTrace = 0x14;
    public const uint LeafPconfig = 0x1b;
    public const uint LeafV2ExtendedTopology = 0x1f;
    public const uint LeafExtendedFeatureInfo = 0x8000_0001;

    // Leaf 1 ECX.
    public static readonly CpuidFeature Dtes64 = new("DTES64", 0x1, 0, CpuidRegister.Ecx, 2);
    public static readonly CpuidFeature Monitor = new("MONITOR", 0x1, 0, CpuidRegister.Ecx, 3);
    public static readonly CpuidFeature DsCpl = new("DS_CPL", 0x1, 0, CpuidRegister.Ecx, 4);
    public static readonly CpuidFeature Vmx = new("VMX", 0x1, 0, CpuidRegister.Ecx, 5);
    public static readonly CpuidFeature Smx = new("SMX", 0x1, 0, CpuidRegister.Ecx, 6);
    public static readonly CpuidFeature Est = new("EST", 0x1, 0, CpuidRegister.Ecx, 7);
    public static readonly CpuidFeature Tm2 = new("TM2", 0x1, 0, CpuidRegister.Ecx, 8);
    public static readonly CpuidFeature Fma = new("FMA", 0x1, 0, CpuidRegister.Ecx, 12);
    public static readonly CpuidFeature Cx16 = new("CX16", 0x1, 0, CpuidRegister.Ecx, 13);
    public static readonly CpuidFeature Xtpr = new("XTPR", 0x1, 0, CpuidRegister.Ecx, 14);
    public static readonly CpuidFeature Pdcm = new("PDCM", 0x1, 0, CpuidRegister.Ecx, 15);
    public static readonly CpuidFeature Dca = new("DCA", 0x1, 0, CpuidRegister.Ecx, 18);
    public static readonly CpuidFeature TscDeadlineTimer = new("TSC_DEADLINE_TIMER", 0x1, 0, CpuidRegister.Ecx, 24);
    public static readonly CpuidFeature Xsave = new("XSAVE", 0x1, 0, CpuidRegister.Ecx, 26);
    public static readonly CpuidFeature Osxsave = new("OSXSAVE", 0x1, 0, CpuidRegister.Ecx, 27);
    public static readonly CpuidFeature Avx = new("AVX", 0x1, 0, CpuidRegister.Ecx, 28);
    public static readonly CpuidFeature F16c = new("F16C", 0x1, 0, CpuidRegister.Ecx, 29);
    public static readonly CpuidFeature Hypervisor = new("HYPERVISOR", 0x1, 0, CpuidRegister.Ecx, 31);

    // Leaf 1 EDX.
    public static readonly CpuidFeature Ds = new("DS", 0x1, 0, CpuidRegister.Edx, 21);
    public static readonly CpuidFeature Acpi = new("ACPI", 0x1, 0, CpuidRegister.Edx, 22);
    public static readonly CpuidFeature Htt = new("HTT", 0x1, 0, CpuidRegister.Edx, 28);
    public static readonly CpuidFeature Tm = new("TM", 0x1, 0, CpuidRegister.Edx, 29);
    public static readonly CpuidFeature Pbe = new("PBE", 0x1, 0, CpuidRegister.Edx, 31);

    // Leaf 6.
    public static readonly CpuidFeature TurboBoost = new("TURBO_BOOST", 0x6, 0, CpuidRegister.Eax, 1);
    public static readonly CpuidFeature Epb = new("EPB", 0x6, 0, CpuidRegister.Ecx, 3);

    // Leaf 7.0 EBX.
    public static readonly CpuidFeature Sgx = new("SGX", 0x7, 0, CpuidRegister.Ebx, 2);
    public static readonly CpuidFeature Hle = new("HLE", 0x7, 0, CpuidRegister.Ebx, 4);
    public static readonly CpuidFeature Avx2 = new("AVX2", 0x7, 0, CpuidRegister.Ebx, 5);
    public static readonly CpuidFeature Rtm = new("RTM", 0x7, 0, CpuidRegister.Ebx, 11);
    public static readonly CpuidFeature RdtM = new("RDT_M", 0x7, 0, CpuidRegister.Ebx, 12);
    public static readonly CpuidFeature Mpx = new("MPX", 0x7, 0, CpuidRegister.Ebx, 14);
    public static readonly CpuidFeature RdtA = new("RDT_A", 0x7, 0, CpuidRegister.Ebx, 15);
    public static readonly CpuidFeature Avx512F = new("AVX512F", 0x7, 0, CpuidRegister.Ebx, 16);
    public static readonly CpuidFeature Avx512Dq = new("AVX512DQ", 0x7, 0, CpuidRegister.Ebx, 17);
    public static readonly CpuidFeature Avx512Ifma = new("AVX512IFMA", 0x7, 0, CpuidRegister.Ebx, 21);
    public static readonly CpuidFeature IntelPt = new("INTEL_PT", 0x7, 0, CpuidRegister.Ebx, 25);
    public static readonly CpuidFeature Avx512Pf = new("AVX512PF", 0x7, 0, CpuidRegister.Ebx, 26);
    public static readonly CpuidFeature Avx512Er = new("AVX512ER", 0x7, 0, CpuidRegister.Ebx, 27);
    public static readonly CpuidFeature Avx512Cd = new("AVX512CD", 0x7, 0, CpuidRegister.Ebx, 28);
    public static readonly CpuidFeature Avx512Bw = new("AVX512BW", 0x7, 0, CpuidRegister.Ebx, 30);
    public static readonly CpuidFeature Avx512Vl = new("AVX512VL", 0x7, 0, CpuidRegister.Ebx, 31);

    // Leaf 7.0 ECX.
    public static readonly CpuidFeature Avx512Vbmi = new("AVX512VBMI", 0x7, 0, CpuidRegister.Ecx, 1);
    public static readonly CpuidFeature Waitpkg = new("WAITPKG", 0x7, 0, CpuidRegister.Ecx, 5);
    public static readonly CpuidFeature Avx512Vbmi2 = new("AVX512_VBMI2", 0x7, 0, CpuidRegister.Ecx, 6);
    public static readonly CpuidFeature Vaes = new("VAES", 0x7, 0, CpuidRegister.Ecx, 9);
    public static readonly CpuidFeature Vpclmulqdq = new("VPCLMULQDQ", 0x7, 0, CpuidRegister.Ecx, 10);
    public static readonly CpuidFeature Avx512Vnni = new("AVX512_VNNI", 0x7, 0, CpuidRegister.Ecx, 11);
    public static readonly CpuidFeature Avx512Bitalg = new("AVX512_BITALG", 0x7, 0, CpuidRegister.Ecx, 12);
    public static readonly CpuidFeature Avx512Vpopcntdq = new("AVX512_VPOPCNTDQ", 0x7, 0, CpuidRegister.Ecx, 14);
    public static readonly CpuidFeature SgxLc = new("SGX_LC", 0x7, 0, CpuidRegister.Ecx, 30);

    // Leaf 7.0 EDX.
    public static readonly CpuidFeature Avx5124Vnniw = new("AVX512_4VNNIW", 0x7, 0, CpuidRegister.Edx, 2);
    public static readonly CpuidFeature Avx5124Fmaps = new("AVX512_4FMAPS", 0x7, 0, CpuidRegister.Edx, 3);
    public static readonly CpuidFeature Avx512Vp2Intersect = new("AVX512_VP2INTERSECT", 0x7, 0, CpuidRegister.Edx, 8);
    public static readonly CpuidFeature TsxForceAbort = new("TSX_FORCE_ABORT", 0x7, 0, CpuidRegister.Edx, 13);
    public static readonly CpuidFeature Hybrid = new("HYBRID_CPU", 0x7, 0, CpuidRegister.Edx, 15);
    public static readonly CpuidFeature Tsxldtrk = new("TSXLDTRK", 0x7, 0, CpuidRegister.Edx, 16);
    public static readonly CpuidFeature Pconfig = new("PCONFIG", 0x7, 0, CpuidRegister.Edx, 18);
    public static readonly CpuidFeature ArchLbr = new("ARCH_LBR", 0x7, 0, CpuidRegister.Edx, 19);
    public static readonly CpuidFeature AmxBf16 = new("AMX_BF16", 0x7, 0, CpuidRegister.Edx, 22);
    public static readonly CpuidFeature Avx512Fp16 = new("AVX512_FP16", 0x7, 0, CpuidRegister.Edx, 23);
    public static readonly CpuidFeature AmxTile = new("AMX_TILE", 0x7, 0, CpuidRegister.Edx, 24);
    public static readonly CpuidFeature AmxInt8 = new("AMX_INT8", 0x7, 0, CpuidRegister.Edx, 25);

    // Leaf 7.1 EAX.
    public static readonly CpuidFeature AvxVnni = new("AVX_VNNI", 0x7, 1, CpuidRegister.Eax, 4);
    public static readonly CpuidFeature Avx512Bf16 = new("AVX512_BF16", 0x7, 1, CpuidRegister.Eax, 5);

    // Leaf 0x8000_0001 ECX.
    public static readonly CpuidFeature Svm = new("SVM", 0x8000_0001, 0, CpuidRegister.Ecx, 2);
    public static readonly CpuidFeature Xop = new("XOP", 0x8000_0001, 0, CpuidRegister.Ecx, 11);
    public static readonly CpuidFeature Fma4 = new("FMA4", 0x8000_0001, 0, CpuidRegister.Ecx, 16);

    /// <summary>
    /// AMD "NullSelectorClearsBase" (leaf 0x80000021 EAX[6]): loading a null selector into FS/GS clears the
    /// segment base. Linux then zeroes a task's FS base on a context switch by loading selector 0 alone.
    /// </summary>
    public static readonly CpuidFeature NullSelectorClearsBase = new("NULL_SEL_CLR_BASE", 0x8000_0021, 0, CpuidRegister.Eax, 6);
    public static readonly CpuidFeature Mwaitx = new("MWAITX", 0x8000_0001, 0, CpuidRegister.Ecx, 29);
}
