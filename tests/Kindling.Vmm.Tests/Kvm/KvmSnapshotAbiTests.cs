using System.Reflection;
using System.Runtime.InteropServices;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Tests.Kvm;

/// <summary>The snapshot ioctls' structures and request numbers against gcc + &lt;linux/kvm.h&gt; (no /dev/kvm needed).</summary>
public sealed class KvmSnapshotAbiTests
{
    public static TheoryData<string, Type> Sizes => new()
    {
        { "kvm_xsave", typeof(KvmXsave) },
        { "kvm_xcr", typeof(KvmXcr) },
        { "kvm_xcrs", typeof(KvmXcrs) },
        { "kvm_debugregs", typeof(KvmDebugRegs) },
        { "kvm_irqchip", typeof(KvmIrqchip) },
        { "kvm_pit_channel_state", typeof(KvmPitChannelState) },
        { "kvm_pit_state2", typeof(KvmPitState2) },
        { "kvm_clock_data", typeof(KvmClockData) },
        { "kvm_msr_list", typeof(KvmMsrList) },
    };

    public static TheoryData<string, Type, string> Offsets => new()
    {
        { "kvm_xcr.xcr", typeof(KvmXcr), nameof(KvmXcr.Xcr) },
        { "kvm_xcr.value", typeof(KvmXcr), nameof(KvmXcr.Value) },
        { "kvm_xcrs.nr_xcrs", typeof(KvmXcrs), nameof(KvmXcrs.NrXcrs) },
        { "kvm_xcrs.flags", typeof(KvmXcrs), nameof(KvmXcrs.Flags) },
        { "kvm_xcrs.xcrs", typeof(KvmXcrs), nameof(KvmXcrs.Xcrs) },
        { "kvm_debugregs.db", typeof(KvmDebugRegs), nameof(KvmDebugRegs.Db) },
        { "kvm_debugregs.dr6", typeof(KvmDebugRegs), nameof(KvmDebugRegs.Dr6) },
        { "kvm_debugregs.dr7", typeof(KvmDebugRegs), nameof(KvmDebugRegs.Dr7) },
        { "kvm_debugregs.flags", typeof(KvmDebugRegs), nameof(KvmDebugRegs.Flags) },
        { "kvm_irqchip.chip_id", typeof(KvmIrqchip), nameof(KvmIrqchip.ChipId) },
        { "kvm_irqchip.chip", typeof(KvmIrqchip), nameof(KvmIrqchip.Chip) },
        { "kvm_pit_channel_state.count", typeof(KvmPitChannelState), nameof(KvmPitChannelState.Count) },
        { "kvm_pit_channel_state.latched_count", typeof(KvmPitChannelState), nameof(KvmPitChannelState.LatchedCount) },
        { "kvm_pit_channel_state.count_latched", typeof(KvmPitChannelState), nameof(KvmPitChannelState.CountLatched) },
        { "kvm_pit_channel_state.status_latched", typeof(KvmPitChannelState), nameof(KvmPitChannelState.StatusLatched) },
        { "kvm_pit_channel_state.status", typeof(KvmPitChannelState), nameof(KvmPitChannelState.Status) },
        { "kvm_pit_channel_state.read_state", typeof(KvmPitChannelState), nameof(KvmPitChannelState.ReadState) },
        { "kvm_pit_channel_state.write_state", typeof(KvmPitChannelState), nameof(KvmPitChannelState.WriteState) },
        { "kvm_pit_channel_state.write_latch", typeof(KvmPitChannelState), nameof(KvmPitChannelState.WriteLatch) },
        { "kvm_pit_channel_state.rw_mode", typeof(KvmPitChannelState), nameof(KvmPitChannelState.RwMode) },
        { "kvm_pit_channel_state.mode", typeof(KvmPitChannelState), nameof(KvmPitChannelState.Mode) },
        { "kvm_pit_channel_state.bcd", typeof(KvmPitChannelState), nameof(KvmPitChannelState.Bcd) },
        { "kvm_pit_channel_state.gate", typeof(KvmPitChannelState), nameof(KvmPitChannelState.Gate) },
        { "kvm_pit_channel_state.count_load_time", typeof(KvmPitChannelState), nameof(KvmPitChannelState.CountLoadTime) },
        { "kvm_pit_state2.channels", typeof(KvmPitState2), nameof(KvmPitState2.Channel0) },
        { "kvm_pit_state2.flags", typeof(KvmPitState2), nameof(KvmPitState2.Flags) },
        { "kvm_clock_data.clock", typeof(KvmClockData), nameof(KvmClockData.Clock) },
        { "kvm_clock_data.flags", typeof(KvmClockData), nameof(KvmClockData.Flags) },
        { "kvm_clock_data.realtime", typeof(KvmClockData), nameof(KvmClockData.Realtime) },
        { "kvm_clock_data.host_tsc", typeof(KvmClockData), nameof(KvmClockData.HostTsc) },
        { "kvm_msr_list.nmsrs", typeof(KvmMsrList), nameof(KvmMsrList.Nmsrs) },
    };

    public static TheoryData<string> IoctlCodes => new(
        "KVM_GET_MSR_INDEX_LIST", "KVM_GET_IRQCHIP", "KVM_SET_IRQCHIP", "KVM_SET_CLOCK", "KVM_GET_CLOCK", "KVM_GET_PIT2", "KVM_SET_PIT2",
        "KVM_GET_MSRS", "KVM_GET_DEBUGREGS", "KVM_SET_DEBUGREGS", "KVM_SET_TSC_KHZ", "KVM_GET_TSC_KHZ", "KVM_GET_XSAVE", "KVM_SET_XSAVE",
        "KVM_GET_XCRS", "KVM_SET_XCRS", "KVM_KVMCLOCK_CTRL");

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SizeOf_SnapshotStruct_MatchesKernelHeader(string cName, Type type) =>
        Assert.Equal(KernelHeaderFacts.Get(cName + ".sizeof"), (ulong)Marshal.SizeOf(type));

    [Theory]
    [MemberData(nameof(Offsets))]
    public void OffsetOf_SnapshotField_MatchesKernelHeader(string cField, Type type, string field) =>
        Assert.Equal(KernelHeaderFacts.Get(cField), (ulong)Marshal.OffsetOf(type, field));

    [Theory]
    [MemberData(nameof(IoctlCodes))]
    public void IoctlCode_SnapshotIoctl_MatchesKernelMacro(string name)
    {
        FieldInfo info = typeof(KvmIoctlCodes).GetField(name, BindingFlags.Static | BindingFlags.NonPublic)
            ?? throw new MissingFieldException(nameof(KvmIoctlCodes), name);
        Assert.Equal(KernelHeaderFacts.Get(name), (ulong)(nuint)info.GetValue(null)!);
    }

    [Fact]
    public void Constants_SnapshotConstants_HaveTheKernelsValues()
    {
        Assert.Equal(KvmIrqchip.PicMaster, KernelHeaderFacts.Get("KVM_IRQCHIP_PIC_MASTER"));
        Assert.Equal(KvmIrqchip.PicSlave, KernelHeaderFacts.Get("KVM_IRQCHIP_PIC_SLAVE"));
        Assert.Equal(KvmIrqchip.Ioapic, KernelHeaderFacts.Get("KVM_IRQCHIP_IOAPIC"));
        Assert.Equal(KvmClockData.TscStable, KernelHeaderFacts.Get("KVM_CLOCK_TSC_STABLE"));
        Assert.Equal((ulong)KvmXcrs.MaxXcrs, KernelHeaderFacts.Get("KVM_MAX_XCRS"));
    }
}
