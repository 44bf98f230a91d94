using System.Runtime.InteropServices;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Block;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Interop;

namespace Kindling.Vmm.Tests.Devices.Virtio;

/// <summary>Sizes and offsets of the ABI structs against the virtio spec and the Linux headers.</summary>
public sealed class AbiLayoutTests
{
    [Fact]
    public void VirtqDesc_MatchesSpec()
    {
        Assert.Equal(16, Marshal.SizeOf<VirtqDesc>());
        Assert.Equal(8, (int)Marshal.OffsetOf<VirtqDesc>(nameof(VirtqDesc.Len)));
        Assert.Equal(12, (int)Marshal.OffsetOf<VirtqDesc>(nameof(VirtqDesc.Flags)));
        Assert.Equal(14, (int)Marshal.OffsetOf<VirtqDesc>(nameof(VirtqDesc.Next)));
    }

    [Fact]
    public void VirtioBlkOutHdr_MatchesSpec()
    {
        Assert.Equal(16, Marshal.SizeOf<VirtioBlkOutHdr>());
        Assert.Equal(8, (int)Marshal.OffsetOf<VirtioBlkOutHdr>(nameof(VirtioBlkOutHdr.Sector)));
    }

    [Fact]
    public void VirtioNetHeader_MatchesSpec()
    {
        Assert.Equal(VirtioNetHeader.Size, Marshal.SizeOf<VirtioNetHeader>());
        Assert.Equal(VirtioNetHeader.NumBuffersOffset, (int)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.NumBuffers)));
        Assert.Equal(6, (int)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.CsumStart)));
    }

    [Fact]
    public void EpollEvent_IsPackedTwelveBytes()
    {
        Assert.Equal(12, Marshal.SizeOf<EpollEvent>());
        Assert.Equal(4, (int)Marshal.OffsetOf<EpollEvent>(nameof(EpollEvent.Data)));
    }

    [Fact]
    public void IfReq_IsFortyBytesWithFlagsAfterName()
    {
        Assert.Equal(40, Marshal.SizeOf<LibcTun.IfReq>());
        Assert.Equal(16, (int)Marshal.OffsetOf<LibcTun.IfReq>(nameof(LibcTun.IfReq.Flags)));
    }
}
