using Kindling.Vmm.Snapshot;

namespace Kindling.Vmm.Tests.Snapshot;

/// <summary>The pure parts of saving vCPU state: which MSRs, in which order, and reading past refused ones.</summary>
public sealed class KvmStateSnapshotTests
{
    [Fact]
    public void MsrsToSave_KvmList_DropsMcgCtlAndX2ApicDuplicatesAndPutsTheTscDeadlineLast()
    {
        uint[] supported = [KvmStateSnapshot.MsrIa32TscDeadline, 0x174, KvmStateSnapshot.MsrIa32McgCtl, 0x802, 0x830, KvmStateSnapshot.MsrIa32Tsc, 0x174, 0xc0000080];

        uint[] msrs = KvmStateSnapshot.MsrsToSave(supported);

        Assert.Equal([0x174u, KvmStateSnapshot.MsrIa32Tsc, 0xc0000080u, KvmStateSnapshot.MsrIa32TscDeadline], msrs);
    }

    [Fact]
    public void ReadableMsrs_KernelStopsAtRefusedOnes_SkipsThemAndReadsTheRest()
    {
        uint[] indices = [1, 2, 3, 4, 5];
        var refused = new HashSet<uint> { 2, 5 };
        var calls = 0;

        (uint Index, ulong Value)[] read = KvmStateSnapshot.ReadableMsrs(indices, asked =>
        {
            calls++;
            return [.. asked.TakeWhile(i => !refused.Contains(i)).Select(i => (i, (ulong)i * 10))];
        });

        Assert.Equal([(1u, 10UL), (3u, 30UL), (4u, 40UL)], read);
        Assert.Equal(2, calls);
    }

    [Fact]
    public void ReadableMsrs_AllReadable_OneCall()
    {
        var calls = 0;

        (uint Index, ulong Value)[] read = KvmStateSnapshot.ReadableMsrs([7, 8], asked =>
        {
            calls++;
            return [.. asked.Select(i => (i, 0UL))];
        });

        Assert.Equal(2, read.Length);
        Assert.Equal(1, calls);
    }
}
