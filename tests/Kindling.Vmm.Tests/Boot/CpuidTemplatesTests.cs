using Kindling.Vmm.Boot;

namespace Kindling.Vmm.Tests.Boot;

public sealed class CpuidTemplatesTests
{
    private const uint Significant = CpuidEntry.FlagSignificantIndex;

    /// <summary>A synthetic KVM_GET_SUPPORTED_CPUID table shaped like a recent Intel host's, every interesting feature on.</summary>
    private static readonly CpuidEntry[] Supported =
    [
        new(0x0, 0, 0, 0x1f, 0x756e_6547, 0x6c65_746e, 0x4965_6e69),
        new(0x1, 0, 0, 0x000806f8, 0x0080_0800 | 0x55_0000_00, 0x7efa_fbff, 0xbfeb_fbff),
        new(0x4, 0, Significant, 0x1c00_4121, 0x01c0_003f, 0x3f, 0),
        new(0x4, 1, Significant, 0x1c00_4122, 0x01c0_003f, 0x3f, 0),
        new(0x4, 2, Significant, 0x1c00_4143, 0x03c0_003f, 0x7ff, 0),
        new(0x4, 3, Significant, 0x1c03_c163, 0x03c0_003f, 0xbfff, 0x4),
        new(0x4, 4, Significant, 0, 0, 0, 0),
        new(0x5, 0, 0, 0x40, 0x40, 0x3, 0x11142120),
        new(0x6, 0, 0, 0x77, 0x2, 0x9, 0),
        new(0x7, 0, Significant, 1, 0xf3bf_fbff, 0x1b40_5f6e, 0xbfc1_c790),
        new(0x7, 1, Significant, 0x30, 0, 0, 0),
        new(0xa, 0, 0, 0x0804_3004, 0, 0, 0x603),
        new(0xb, 0, Significant, 1, 2, 0x100, 0x55),
        new(0xb, 1, Significant, 7, 112, 0x201, 0x55),
        new(0xb, 2, Significant, 0, 0, 2, 0x55),
        new(0xd, 0, Significant, 0x2e7, 0x2988, 0x2988, 0),
        new(0xd, 1, Significant, 0xf, 0x2988, 0x1900, 0),
        new(0x1f, 0, Significant, 1, 2, 0x100, 0x55),
        new(0x1f, 1, Significant, 7, 112, 0x201, 0x55),
        new(0x4000_0001, 0, 0, 0x0100_7afb, 0, 0, 0),
        new(0x8000_0001, 0, 0, 0, 0, 0x0000_0121 | (1u << 2) | (1u << 29), 0x2c10_0800),
    ];

    private static CpuidEntry Find(CpuidEntry[] table, uint leaf, uint index = 0) =>
        table.Single(e => e.Function == leaf && e.Index == index);

    [Fact]
    public void Apply_None_Leaf1GetsApicIdCountsAndHypervisorBit()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.None, vcpuIndex: 2, vcpuCount: 4);

        CpuidEntry leaf1 = Find(t, 1);
        Assert.Equal(2u, leaf1.Ebx >> 24);
        Assert.Equal(4u, (leaf1.Ebx >> 16) & 0xff);
        Assert.Equal(8u, (leaf1.Ebx >> 8) & 0xff);
        Assert.True(CpuidFeatures.Hypervisor.IsSet(leaf1));
        Assert.True(CpuidFeatures.TscDeadlineTimer.IsSet(leaf1));
        Assert.True(CpuidFeatures.Htt.IsSet(leaf1));
        Assert.True(CpuidFeatures.Monitor.IsSet(leaf1)); // None keeps features
        Assert.Equal(Supported.Length, t.Length);
    }

    [Fact]
    public void Apply_None_FirecrackerNormalisationClearsPdcmTurboAndPmu()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.None, 0, 1);

        Assert.False(CpuidFeatures.Pdcm.IsSet(Find(t, 1)));
        Assert.False(CpuidFeatures.TurboBoost.IsSet(Find(t, 6)));
        Assert.False(CpuidFeatures.Epb.IsSet(Find(t, 6)));
        Assert.Equal(Find(Supported, 6).Eax & ~2u, Find(t, 6).Eax);
        Assert.Equal(new CpuidEntry(0xa, 0, 0, 0, 0, 0, 0), Find(t, 0xa));
    }

    [Fact]
    public void Apply_None_MissingTopologyCoreLevel_Inserted()
    {
        CpuidEntry[] supported = [.. Supported.Where(e => !(e.Function == 0xb && e.Index >= 1))];

        CpuidEntry[] t = CpuidTemplates.Apply(supported, CpuTemplate.None, 1, 2);

        Assert.Equal(new CpuidEntry(0xb, 1, Significant, 1, 2, 0x201, 1), Find(t, 0xb, 1));
        Assert.Equal(supported.Length + 1, t.Length);
    }

    [Fact]
    public void Apply_None_OneVcpuHasNoHtt()
    {
        CpuidEntry leaf1 = Find(CpuidTemplates.Apply(Supported, CpuTemplate.None, 0, 1), 1);

        Assert.False(CpuidFeatures.Htt.IsSet(leaf1));
        Assert.Equal(0u, leaf1.Ebx >> 24);
    }

    [Fact]
    public void Apply_None_ExtendedTopologyDescribesVcpus()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.None, vcpuIndex: 3, vcpuCount: 6);

        foreach (uint leaf in new uint[] { 0xb, 0x1f })
        {
            Assert.Equal(new CpuidEntry(leaf, 0, Significant, 0, 1, 0x100, 3), Find(t, leaf, 0));
            Assert.Equal(new CpuidEntry(leaf, 1, Significant, 3, 6, 0x201, 3), Find(t, leaf, 1));
        }

        Assert.Equal(new CpuidEntry(0xb, 2, Significant, 0, 0, 2, 3), Find(t, 0xb, 2));
    }

    [Fact]
    public void Apply_None_Leaf4CoresAndSharing()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.None, 0, 4);

        Assert.Equal(3u, Find(t, 4, 0).Eax >> 26);
        Assert.Equal(0u, (Find(t, 4, 0).Eax >> 14) & 0xfff); // L1d private
        Assert.Equal(0u, (Find(t, 4, 2).Eax >> 14) & 0xfff); // L2 private
        Assert.Equal(3u, (Find(t, 4, 3).Eax >> 14) & 0xfff); // L3 shared by all
        Assert.Equal(0x163u, Find(t, 4, 3).Eax & 0x3ff); // type and level kept
        Assert.Equal(new CpuidEntry(4, 4, Significant, 0, 0, 0, 0), Find(t, 4, 4));
    }

    [Fact]
    public void Apply_Minimal_ClearsMonitorVmxTsxAndZeroesPmu()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.Minimal, 0, 2);

        CpuidEntry leaf1 = Find(t, 1);
        Assert.False(CpuidFeatures.Monitor.IsSet(leaf1));
        Assert.False(CpuidFeatures.Vmx.IsSet(leaf1));
        Assert.False(CpuidFeatures.Pdcm.IsSet(leaf1));
        Assert.True(CpuidFeatures.Hypervisor.IsSet(leaf1));
        Assert.True(CpuidFeatures.Cx16.IsSet(leaf1)); // only Emulated removes it
        Assert.True(CpuidFeatures.Xsave.IsSet(leaf1));
        CpuidEntry leaf7 = Find(t, 7);
        Assert.False(CpuidFeatures.Hle.IsSet(leaf7));
        Assert.False(CpuidFeatures.Rtm.IsSet(leaf7));
        Assert.False(CpuidFeatures.Pconfig.IsSet(leaf7));
        Assert.True(CpuidFeatures.Avx2.IsSet(leaf7));
        Assert.Equal(new CpuidEntry(0xa, 0, 0, 0, 0, 0, 0), Find(t, 0xa));
        Assert.Equal(new CpuidEntry(0x5, 0, 0, 0, 0, 0, 0), Find(t, 0x5));
        Assert.False(CpuidFeatures.Svm.IsSet(Find(t, 0x8000_0001)));
        Assert.False(CpuidFeatures.Mwaitx.IsSet(Find(t, 0x8000_0001)));
        Assert.Equal(Find(Supported, 0x4000_0001), Find(t, 0x4000_0001));
    }

    [Fact]
    public void Apply_Minimal_EveryListedFeatureCleared()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.Minimal, 0, 1);

        foreach (CpuidFeature f in CpuidTemplates.MinimalCleared)
        {
            Assert.DoesNotContain(t, e => f.IsSet(e));
        }
    }

    [Fact]
    public void Apply_Emulated_ClearsCx16AndXsaveFamilyAndZeroesLeafD()
    {
        CpuidEntry[] t = CpuidTemplates.Apply(Supported, CpuTemplate.Emulated, 0, 1);

        CpuidEntry leaf1 = Find(t, 1);
        Assert.False(CpuidFeatures.Cx16.IsSet(leaf1));
        Assert.False(CpuidFeatures.Xsave.IsSet(leaf1));
        Assert.False(CpuidFeatures.Osxsave.IsSet(leaf1));
        Assert.False(CpuidFeatures.Avx.IsSet(leaf1));
        Assert.False(CpuidFeatures.Monitor.IsSet(leaf1)); // Minimal's removals too
        CpuidEntry leaf7 = Find(t, 7);
        Assert.False(CpuidFeatures.Avx2.IsSet(leaf7));
        Assert.False(CpuidFeatures.Avx512F.IsSet(leaf7));
        Assert.False(CpuidFeatures.Avx512Vl.IsSet(leaf7));
        Assert.False(CpuidFeatures.AvxVnni.IsSet(Find(t, 7, 1)));
        Assert.All(t.Where(e => e.Function == 0xd), e => Assert.Equal((0u, 0u, 0u, 0u), (e.Eax, e.Ebx, e.Ecx, e.Edx)));
        foreach (CpuidFeature f in CpuidTemplates.EmulatedCleared.Concat(CpuidTemplates.MinimalCleared))
        {
            Assert.DoesNotContain(t, e => f.IsSet(e));
        }
    }

    [Fact]
    public void Apply_DoesNotChangeSupportedTable()
    {
        CpuidEntry[] copy = [.. Supported];

        CpuidTemplates.Apply(Supported, CpuTemplate.Emulated, 1, 2);

        Assert.Equal(copy, Supported);
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(1, 1)]
    [InlineData(0, 0)]
    public void Apply_BadVcpuIndexOrCount_Throws(int index, int count)
    {
        Assert.ThrowsAny<ArgumentOutOfRangeException>(() => CpuidTemplates.Apply(Supported, CpuTemplate.None, index, count));
    }

    [Fact]
    public void KernelCommandLineAdditions_Emulated_ClearCpuidListWithinKernelLimit()
    {
        string additions = CpuidTemplates.KernelCommandLineAdditions(CpuTemplate.Emulated);

        string[] words = additions.Split(' ');
        Assert.StartsWith("clearcpuid=xsave,cx16,smap,", words[0], StringComparison.Ordinal);
        Assert.True(words[0].Length - "clearcpuid=".Length <= 127, $"{words[0].Length - 11} characters");
        Assert.Contains("ssse3", words[0], StringComparison.Ordinal);
        Assert.Equal(["nowatchdog", "cryptomgr.notests", "lsm=capability", "audit=0", "mitigations=off", CpuidTemplates.EmulatedGlibcTunables], words[1..]);
        Assert.StartsWith("GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,", words[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(CpuTemplate.None)]
    [InlineData(CpuTemplate.Minimal)]
    public void KernelCommandLineAdditions_OtherTemplates_Empty(CpuTemplate template)
    {
        Assert.Equal("", CpuidTemplates.KernelCommandLineAdditions(template));
    }
}
