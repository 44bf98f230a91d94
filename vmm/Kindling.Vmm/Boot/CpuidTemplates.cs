using System.Numerics;

namespace Kindling.Vmm.Boot;

/// <summary>
/// Turns the table KVM_GET_SUPPORTED_CPUID returns into what one vCPU sees.
/// <list type="bullet">
/// <item><see cref="CpuTemplate.None"/>: the supported table with Firecracker's CPUID normalisation
/// (docs/cpu_templates/cpuid-normalization.md): leaf 1 (initial APIC ID = vCPU index, CLFLUSH line 64 bytes,
/// logical processor count, HTT when SMP, PDCM cleared, HYPERVISOR and TSC_DEADLINE_TIMER set — KVM's in-kernel
/// LAPIC emulates the deadline timer though the supported table omits it), leaf 4 (cores per package; L1/L2
/// private, L3 shared by all vCPUs), leaf 6 (no turbo, no EPB), the PMU leaf 0xA zeroed, and leaves 0xB/0x1F (one
/// thread per core, vcpuCount cores, x2APIC ID = vCPU index; 0xB subleaf 1 inserted when KVM left it out).</item>
/// <item><see cref="CpuTemplate.Minimal"/>: None minus what a small CI guest does not need: <see cref="MinimalCleared"/>
/// (MONITOR/MWAIT, VMX/SVM, SMX, thermal and power management, debug store, DCA, xTPR, TSX (HLE/RTM/TSXLDTRK/
/// TSX_FORCE_ABORT), MPX, SGX, Intel PT, RDT, WAITPKG, PCONFIG, ARCH_LBR, HYBRID) and the leaves
/// <see cref="MinimalZeroedLeaves"/> zeroed (MONITOR/MWAIT 0x5, RDT 0xF/0x10, SGX 0x12, PT 0x14, PCONFIG 0x1B).</item>
/// <item><see cref="CpuTemplate.Emulated"/>: Minimal minus CX16 and the XSAVE family (<see cref="EmulatedCleared"/>:
/// XSAVE, OSXSAVE, AVX and everything built on it — FMA, F16C, AVX2, AVX-512, VAES, VPCLMULQDQ, AMX, AVX-VNNI, XOP,
/// FMA4) with leaf 0xD zeroed; the kernel is further told <see cref="KernelCommandLineAdditions"/> because on hosts
/// whose KVM emulates guest kernel code, CPUID does not follow KVM_SET_CPUID2 completely (issue 11).</item>
/// </list>
/// </summary>
public static class CpuidTemplates
{
    /// <summary>
    /// Features the kernel must not use on emulated KVM, most important first: the kernel reads at most 127
    /// characters of clearcpuid= (issue 11's measured list).
    /// </summary>
    public const string EmulatedClearCpuid =
        "xsave,cx16,smap,popcnt,ssse3,sse4_1,sse4_2,avx,avx2,avx512f,fsgsbase,rdrand,rdseed,rdpid,pcid,invpcid,erms,fsrm,movbe,aes";

    /// <summary>The longest clearcpuid= value the kernel reads (a 128-byte buffer with its NUL).</summary>
    public const int ClearCpuidMaxLength = 127;

    /// <summary>Switches that cut emulated work during boot: no soft-lockup watchdog, no crypto self-tests, one LSM, no audit, no mitigations.</summary>
    public const string EmulatedBootSwitches = "nowatchdog cryptomgr.notests lsm=capability audit=0 mitigations=off";

    /// <summary>
    /// Measured on kvm_pvm: guest user mode runs natively with the host's AVX state enabled whatever the guest's CPUID
    /// says, but the guest kernel, told not to use XSAVE (its emulator rejects XRSTOR), saves only the SSE state on
    /// a context switch, so the upper halves of YMM/ZMM registers leak between processes (static busybox segfaulted
    /// in pipelines after an AVX2 memcpy of its TLS image came out zeroed). glibc is told not to use AVX: the kernel
    /// hands this word to init as an environment variable, and every process inherits it.
    /// </summary>
    public const string EmulatedGlibcTunables =
        "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-AVX_Fast_Unaligned_Load,-FMA,-FMA4,-BMI2,-ERMS";

    /// <summary>CLFLUSH line size in leaf 1 EBX[15:8], in 8-byte units: 64 bytes.</summary>
    public const uint ClflushLineSize64 = 8;

    /// <summary>Extended topology level types (leaf 0xB/0x1F ECX[15:8]).</summary>
    public const uint TopologyLevelInvalid = 0, TopologyLevelSmt = 1, TopologyLevelCore = 2;

    /// <summary>Cleared by every template (Firecracker's normalisation).</summary>
    public static IReadOnlyList<CpuidFeature> NormalisationCleared { get; } =
        [CpuidFeatures.Pdcm, CpuidFeatures.TurboBoost, CpuidFeatures.Epb];

    /// <summary>Zeroed by every template: the architectural PMU (leaf 0xA), which KVM would otherwise expose.</summary>
    public static IReadOnlyList<uint> NormalisationZeroedLeaves { get; } = [CpuidFeatures.LeafArchPerfMon];

    public static IReadOnlyList<CpuidFeature> MinimalCleared { get; } =
    [
        CpuidFeatures.Dtes64, CpuidFeatures.Monitor, CpuidFeatures.DsCpl, CpuidFeatures.Vmx, CpuidFeatures.Smx,
        CpuidFeatures.Est, CpuidFeatures.Tm2, CpuidFeatures.Xtpr, CpuidFeatures.Dca,
        CpuidFeatures.Ds, CpuidFeatures.Acpi, CpuidFeatures.Tm, CpuidFeatures.Pbe,
        CpuidFeatures.Sgx, CpuidFeatures.Hle, CpuidFeatures.Rtm, CpuidFeatures.RdtM, CpuidFeatures.Mpx,
        CpuidFeatures.RdtA, CpuidFeatures.IntelPt, CpuidFeatures.Waitpkg, CpuidFeatures.SgxLc,
        CpuidFeatures.TsxForceAbort, CpuidFeatures.Hybrid, CpuidFeatures.Tsxldtrk, CpuidFeatures.Pconfig,
        CpuidFeatures.ArchLbr, CpuidFeatures.Svm, CpuidFeatures.Mwaitx,
    ];

    public static IReadOnlyList<uint> MinimalZeroedLeaves { get; } =
    [
        CpuidFeatures.LeafMonitorMwait, CpuidFeatures.LeafRdtMonitoring,
        CpuidFeatures.LeafRdtAllocation, CpuidFeatures.LeafSgx, CpuidFeatures.LeafProcessorTrace,
        CpuidFeatures.LeafPconfig,
    ];

    public static IReadOnlyList<CpuidFeature> EmulatedCleared { get; } =
    [
        CpuidFeatures.Cx16, CpuidFeatures.Xsave, CpuidFeatures.Osxsave, CpuidFeatures.Avx, CpuidFeatures.Fma,
        CpuidFeatures.F16c, CpuidFeatures.Avx2, CpuidFeatures.Avx512F, CpuidFeatures.Avx512Dq,
        CpuidFeatures.Avx512Ifma, CpuidFeatures.Avx512Pf, CpuidFeatures.Avx512Er, CpuidFeatures.Avx512Cd,
        CpuidFeatures.Avx512Bw, CpuidFeatures.Avx512Vl, CpuidFeatures.Avx512Vbmi, CpuidFeatures.Avx512Vbmi2,
        CpuidFeatures.Vaes, CpuidFeatures.Vpclmulqdq, CpuidFeatures.Avx512Vnni, CpuidFeatures.Avx512Bitalg,
        CpuidFeatures.Avx512Vpopcntdq, CpuidFeatures.Avx5124Vnniw, CpuidFeatures.Avx5124Fmaps,
        CpuidFeatures.Avx512Vp2Intersect, CpuidFeatures.AmxBf16, CpuidFeatures.Avx512Fp16, CpuidFeatures.AmxTile,
        CpuidFeatures.AmxInt8, CpuidFeatures.AvxVnni, CpuidFeatures.Avx512Bf16, CpuidFeatures.Xop,
        CpuidFeatures.Fma4,

        // A precaution, not a measured need: hidden, Linux sets X86_BUG_NULL_SEG and clears FS/GS bases by loading
        // __USER_DS first, which works on any CPU, instead of trusting an emulated null-selector load. (The busybox
        // segfaults first suspected here were the AVX state leak; see EmulatedGlibcTunables.)
        CpuidFeatures.NullSelectorClearsBase,
    ];

    public static IReadOnlyList<uint> EmulatedZeroedLeaves { get; } = [CpuidFeatures.LeafXsave];

    /// <summary>The CPUID table for vCPU <paramref name="vcpuIndex"/> of <paramref name="vcpuCount"/> under <paramref name="template"/>.</summary>
    public static CpuidEntry[] Apply(IReadOnlyList<CpuidEntry> supported, CpuTemplate template, int vcpuIndex, int vcpuCount)
    {
        ArgumentNullException.ThrowIfNull(supported);
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vcpuCount, MpTable.MaxVcpus);
        ArgumentOutOfRangeException.ThrowIfNegative(vcpuIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpuIndex, vcpuCount);
        if (!Enum.IsDefined(template))
        {
            throw new ArgumentOutOfRangeException(nameof(template), template, "unknown CPU template");
        }

        var cleared = new List<CpuidFeature>(NormalisationCleared);
        var zeroed = new HashSet<uint>(NormalisationZeroedLeaves);
        if (template is CpuTemplate.Minimal or CpuTemplate.Emulated)
        {
            cleared.AddRange(MinimalCleared);
            zeroed.UnionWith(MinimalZeroedLeaves);
        }

        if (template is CpuTemplate.Emulated)
        {
            cleared.AddRange(EmulatedCleared);
            zeroed.UnionWith(EmulatedZeroedLeaves);
        }

        List<CpuidEntry> table = WithTopologySubleaf(supported);
        var result = new CpuidEntry[table.Count];
        for (int i = 0; i < table.Count; i++)
        {
            CpuidEntry entry = Normalise(table[i], (uint)vcpuIndex, (uint)vcpuCount);
            if (zeroed.Contains(entry.Function))
            {
                entry = entry with { Eax = 0, Ebx = 0, Ecx = 0, Edx = 0 };
            }

            foreach (CpuidFeature feature in cleared)
            {
                entry = feature.With(entry, false);
            }

            result[i] = entry;
        }

        return result;
    }

    /// <summary>What to append to the kernel command line for <paramref name="template"/> ("" when nothing).</summary>
    public static string KernelCommandLineAdditions(CpuTemplate template) => template switch
    {
        CpuTemplate.Emulated => $"clearcpuid={EmulatedClearCpuid} {EmulatedBootSwitches} {EmulatedGlibcTunables}",
        _ => "",
    };

    /// <summary>The table with leaf 0xB subleaf 1 (the core level) added after subleaf 0 when KVM reported only subleaf 0.</summary>
    private static List<CpuidEntry> WithTopologySubleaf(IReadOnlyList<CpuidEntry> supported)
    {
        var table = new List<CpuidEntry>(supported);
        int smtLevel = table.FindIndex(e => e.Function == CpuidFeatures.LeafExtendedTopology && e.Index == 0);
        if (smtLevel >= 0 && !table.Exists(e => e.Function == CpuidFeatures.LeafExtendedTopology && e.Index == 1))
        {
            table.Insert(smtLevel + 1, new CpuidEntry(CpuidFeatures.LeafExtendedTopology, 1, CpuidEntry.FlagSignificantIndex, 0, 0, 0, 0));
        }

        return table;
    }

    private static CpuidEntry Normalise(CpuidEntry entry, uint vcpuIndex, uint vcpuCount) => entry.Function switch
    {
        CpuidFeatures.LeafFeatureInfo => NormaliseFeatureInfo(entry, vcpuIndex, vcpuCount),
        CpuidFeatures.LeafCacheParameters => NormaliseCacheParameters(entry, vcpuCount),
        CpuidFeatures.LeafExtendedTopology or CpuidFeatures.LeafV2ExtendedTopology =>
            ExtendedTopology(entry, vcpuIndex, vcpuCount),
        _ => entry,
    };

    private static CpuidEntry NormaliseFeatureInfo(CpuidEntry entry, uint vcpuIndex, uint vcpuCount)
    {
        const int apicIdShift = 24, logicalCountShift = 16, clflushShift = 8;
        uint ebx = entry.Ebx & 0x0000_00ff; // keep the brand index
        ebx |= (vcpuIndex & 0xff) << apicIdShift;
        ebx |= Math.Min(vcpuCount, 0xffu) << logicalCountShift;
        ebx |= ClflushLineSize64 << clflushShift;
        entry = entry with { Ebx = ebx };
        entry = CpuidFeatures.Hypervisor.With(entry, true);
        entry = CpuidFeatures.TscDeadlineTimer.With(entry, true);
        return CpuidFeatures.Htt.With(entry, vcpuCount > 1);
    }

    private static CpuidEntry NormaliseCacheParameters(CpuidEntry entry, uint vcpuCount)
    {
        const int cacheTypeMask = 0x1f, levelShift = 5, levelMask = 0x7;
        const int sharingShift = 14, coresShift = 26;
        const uint sharingMask = 0xfff, coresMask = 0x3f;
        if ((entry.Eax & cacheTypeMask) == 0)
        {
            return entry; // no more caches
        }

        uint level = (entry.Eax >> levelShift) & levelMask;
        uint sharing = level <= 2 ? 0 : Math.Min(vcpuCount - 1, sharingMask);
        uint cores = Math.Min(vcpuCount - 1, coresMask);
        uint eax = entry.Eax & ~((sharingMask << sharingShift) | (coresMask << coresShift));
        eax |= (sharing << sharingShift) | (cores << coresShift);
        return entry with { Eax = eax };
    }

    private static CpuidEntry ExtendedTopology(CpuidEntry entry, uint vcpuIndex, uint vcpuCount)
    {
        const int levelTypeShift = 8;
        (uint shift, uint count, uint type) = entry.Index switch
        {
            0 => (0u, 1u, TopologyLevelSmt),
            1 => ((uint)BitOperations.Log2(BitOperations.RoundUpToPowerOf2(vcpuCount)), vcpuCount, TopologyLevelCore),
            _ => (0u, 0u, TopologyLevelInvalid),
        };
        return entry with
        {
            Eax = shift,
            Ebx = count,
            Ecx = (entry.Index & 0xff) | (type << levelTypeShift),
            Edx = vcpuIndex,
        };
    }
}
