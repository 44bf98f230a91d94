using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Tests.Kvm;

/// <summary>Decoding of a kvm_run page built by hand the way the kernel fills it.</summary>
// SAFETY: pointer tests over memory the test allocates and keeps alive for the whole test (stack locals, pinned arrays, the mapping under test).
public sealed unsafe class VcpuExitDecodeTests
{
    [Fact]
    public void Decode_IoOut_GivesPortSizeAndCount()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.Io;
        run.Exit.Io = new KvmRunIo { Direction = KvmRunIo.DirectionOut, Size = 1, Port = 0x3f8, Count = 3, DataOffset = 4096 };

        VcpuExit exit = VcpuFd.Decode(&run);

        Assert.Equal(VcpuExitKind.IoOut, exit.Kind);
        Assert.Equal(0x3f8UL, exit.Address);
        Assert.Equal(1, exit.Size);
        Assert.Equal(3u, exit.Count);
    }

    [Fact]
    public void Decode_IoIn_IsIoIn()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.Io;
        run.Exit.Io = new KvmRunIo { Direction = KvmRunIo.DirectionIn, Size = 2, Port = 0x64, Count = 1 };

        Assert.Equal(VcpuExitKind.IoIn, VcpuFd.Decode(&run).Kind);
    }

    [Theory]
    [InlineData(1, VcpuExitKind.MmioWrite)]
    [InlineData(0, VcpuExitKind.MmioRead)]
    public void Decode_Mmio_GivesDirectionAddressAndLength(byte isWrite, VcpuExitKind kind)
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.Mmio;
        run.Exit.Mmio.PhysAddr = 0xd000_0050;
        run.Exit.Mmio.Len = 4;
        run.Exit.Mmio.IsWrite = isWrite;

        VcpuExit exit = VcpuFd.Decode(&run);

        Assert.Equal(kind, exit.Kind);
        Assert.Equal(0xd000_0050UL, exit.Address);
        Assert.Equal(4, exit.Size);
    }

    [Fact]
    public void Decode_MmioLengthBeyondDataArray_IsClampedToEight()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.Mmio;
        run.Exit.Mmio.Len = 4096;

        Assert.Equal(8, VcpuFd.Decode(&run).Size);
    }

    [Fact]
    public void Decode_InternalError_CopiesSuberrorAndNdataWords()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.InternalError;
        run.Exit.Internal.Suberror = KvmExitReason.InternalErrorEmulation;
        run.Exit.Internal.Ndata = 3;
        run.Exit.Internal.Data[0] = 1;
        run.Exit.Internal.Data[1] = 0x22;
        run.Exit.Internal.Data[2] = 0x33;
        run.Exit.Internal.Data[3] = 0x44; // beyond ndata: not copied

        VcpuExit exit = VcpuFd.Decode(&run);

        Assert.Equal(VcpuExitKind.InternalError, exit.Kind);
        Assert.Equal(KvmExitReason.InternalErrorEmulation, exit.Code);
        Assert.Equal([1UL, 0x22UL, 0x33UL], exit.Data);
    }

    [Fact]
    public void Decode_InternalErrorWithHugeNdata_CopiesAtMostSixteenWords()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.InternalError;
        run.Exit.Internal.Ndata = uint.MaxValue;

        Assert.Equal(KvmRunInternal.MaxData, VcpuFd.Decode(&run).Data.Count);
    }

    [Fact]
    public void Decode_SystemEvent_GivesType()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.SystemEvent;
        run.Exit.SystemEvent.Type = KvmExitReason.SystemEventReset;

        VcpuExit exit = VcpuFd.Decode(&run);

        Assert.Equal(VcpuExitKind.SystemEvent, exit.Kind);
        Assert.Equal(KvmExitReason.SystemEventReset, exit.Code);
    }

    [Fact]
    public void Decode_FailEntry_GivesHardwareReason()
    {
        KvmRun run = default;
        run.ExitReason = KvmExitReason.FailEntry;
        run.Exit.FailEntry.HardwareEntryFailureReason = 0x80000021;
        run.Exit.FailEntry.Cpu = 2;

        VcpuExit exit = VcpuFd.Decode(&run);

        Assert.Equal(VcpuExitKind.FailEntry, exit.Kind);
        Assert.Equal(0x80000021UL, exit.HardwareReason);
    }

    [Theory]
    [InlineData(KvmExitReason.Hlt, VcpuExitKind.Hlt)]
    [InlineData(KvmExitReason.Shutdown, VcpuExitKind.Shutdown)]
    [InlineData(KvmExitReason.Intr, VcpuExitKind.Intr)]
    [InlineData(KvmExitReason.Debug, VcpuExitKind.Unknown)]
    [InlineData(999u, VcpuExitKind.Unknown)]
    public void Decode_OtherReasons_MapToKinds(uint reason, VcpuExitKind kind)
    {
        KvmRun run = default;
        run.ExitReason = reason;

        VcpuExit exit = VcpuFd.Decode(&run);

        Assert.Equal(kind, exit.Kind);
        Assert.Equal(reason, exit.ExitReason);
    }
}
