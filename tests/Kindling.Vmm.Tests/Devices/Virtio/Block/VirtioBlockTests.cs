using System.Buffers.Binary;
using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Block;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio.Block;

public sealed class VirtioBlockTests : IDisposable
{
    private const int Sectors = 64;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"kindling-blk-{Guid.NewGuid():N}.img");

    public VirtioBlockTests()
    {
        byte[] image = new byte[Sectors * 512];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = (byte)(i / 512);
        }

        File.WriteAllBytes(_path, image);
    }

    public void Dispose() => File.Delete(_path);

    private DeviceHarness Harness(bool readOnly = false) =>
        new(new VirtioBlock("rootfs", DiskBackend.Open("rootfs", _path, readOnly)));

    private static (ushort Head, GuestAddress Data, GuestAddress Status) Submit(DeviceHarness h, uint type, ulong sector, uint dataLength, bool dataWritable, bool indirect = false)
    {
        VirtQueueBuilder q = h.Q;
        GuestAddress hdr = q.Alloc(16);
        h.Memory.Write(hdr, new VirtioBlkOutHdr { Type = type, Sector = sector });
        GuestAddress data = q.Alloc(Math.Max(dataLength, 1));
        GuestAddress status = q.Alloc(1);
        h.Memory.Write(status, (byte)0xff);
        var buffers = new List<DriverBuffer> { DriverBuffer.DeviceReads(hdr, 16) };
        if (dataLength > 0)
        {
            buffers.Add(new DriverBuffer(data, dataLength, dataWritable));
        }

        buffers.Add(DriverBuffer.DeviceWrites(status, 1));
        ushort head = indirect ? q.AddIndirectChain([.. buffers]) : q.AddChain([.. buffers]);
        q.Publish(head);
        h.Driver.Notify(0);
        return (head, data, status);
    }

    [Fact]
    public void Config_CapacityAndSegMax()
    {
        DeviceHarness h = Harness();
        Span<byte> cfg = stackalloc byte[16];
        h.Driver.ReadConfig(0, cfg);
        Assert.Equal((ulong)Sectors, BinaryPrimitives.ReadUInt64LittleEndian(cfg));
        Assert.Equal(VirtioBlock.SegMax, BinaryPrimitives.ReadUInt32LittleEndian(cfg[12..]));
    }

    [Fact]
    public void Read_Sector_FillsBufferAndReportsLength()
    {
        DeviceHarness h = Harness();
        var (head, data, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_IN, 3, 1024, true);
        Assert.Equal(new UsedElement(head, 1025), Assert.Single(h.Q.TakeAllUsed()));
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_OK, h.Memory.Read<byte>(status));
        Assert.Equal(3, h.Memory.Read<byte>(data));
        Assert.Equal(4, h.Memory.Read<byte>(data.Add(512)));
        Assert.Equal(1, h.Interrupt.Count);
    }

    [Fact]
    public void Read_Indirect_Works()
    {
        DeviceHarness h = Harness();
        var (_, data, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_IN, 7, 512, true, indirect: true);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_OK, h.Memory.Read<byte>(status));
        Assert.Equal(7, h.Memory.Read<byte>(data.Add(511)));
    }

    [Fact]
    public void Write_ThenRead_RoundTripsToFile()
    {
        DeviceHarness h = Harness();
        GuestAddress payload = h.Q.Alloc(512);
        var (_, data, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_OUT, 5, 0, false);
        _ = data;
        _ = payload;
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_IOERR, h.Memory.Read<byte>(status)); // no data: error

        VirtQueueBuilder q = h.Q;
        GuestAddress hdr = q.Alloc(16);
        h.Memory.Write(hdr, new VirtioBlkOutHdr { Type = BlockRequest.VIRTIO_BLK_T_OUT, Sector = 5 });
        GuestAddress buf = q.Alloc(512);
        h.Memory.GetSpan(buf, 512).Fill(0xab);
        GuestAddress st = q.Alloc(1);
        q.Push(DriverBuffer.DeviceReads(hdr, 16), DriverBuffer.DeviceReads(buf, 512), DriverBuffer.DeviceWrites(st, 1));
        h.Driver.Notify(0);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_OK, h.Memory.Read<byte>(st));
        Submit(h, BlockRequest.VIRTIO_BLK_T_FLUSH, 0, 0, false);
        byte[] file = File.ReadAllBytes(_path);
        Assert.All(file.AsSpan(5 * 512, 512).ToArray(), b => Assert.Equal(0xab, b));
        Assert.Equal(6, file[6 * 512]);
    }

    [Fact]
    public void Write_ReadOnlyDrive_IoErrAndFileUnchanged()
    {
        DeviceHarness h = Harness(readOnly: true);
        Assert.NotEqual(0UL, h.AckedFeatures & VirtioSpec.Bit(VirtioBlock.VIRTIO_BLK_F_RO));
        var (head, _, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_OUT, 0, 512, false);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_IOERR, h.Memory.Read<byte>(status));
        Assert.Equal(new UsedElement(head, 1), Assert.Single(h.Q.TakeAllUsed()));
        Assert.Equal(0, File.ReadAllBytes(_path)[0]);
    }

    [Theory]
    [InlineData(64UL, 512U)]          // first sector past the end
    [InlineData(63UL, 1024U)]         // straddles the end
    [InlineData(ulong.MaxValue, 512U)] // sector*512 overflows
    public void Read_OutOfRange_IoErr(ulong sector, uint length)
    {
        DeviceHarness h = Harness();
        var (_, _, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_IN, sector, length, true);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_IOERR, h.Memory.Read<byte>(status));
    }

    [Fact]
    public void Read_IntoDeviceReadableBuffer_IoErr()
    {
        DeviceHarness h = Harness();
        var (_, _, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_IN, 0, 512, false);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_IOERR, h.Memory.Read<byte>(status));
    }

    [Fact]
    public void GetId_Writes20ByteSerial()
    {
        DeviceHarness h = Harness();
        var (head, data, status) = Submit(h, BlockRequest.VIRTIO_BLK_T_GET_ID, 0, 20, true);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_OK, h.Memory.Read<byte>(status));
        Assert.Equal(new UsedElement(head, 21), Assert.Single(h.Q.TakeAllUsed()));
        Assert.Equal("rootfs"u8.ToArray(), h.Memory.GetSpan(data, 6).ToArray());
        Assert.Equal(0, h.Memory.Read<byte>(data.Add(6)));
    }

    [Fact]
    public void UnknownType_Unsupp()
    {
        DeviceHarness h = Harness();
        var (_, _, status) = Submit(h, 0x42, 0, 0, false);
        Assert.Equal(BlockRequest.VIRTIO_BLK_S_UNSUPP, h.Memory.Read<byte>(status));
    }

    [Fact]
    public void Open_MissingFile_NamesDriveAndPath()
    {
        var e = Assert.Throws<VirtioDeviceException>(() => DiskBackend.Open("scratch", "/nonexistent/disk.img", false));
        Assert.Contains("scratch", e.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/disk.img", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RateLimiter_Blocked_DefersUntilTimer()
    {
        var time = new FakeTimeProvider();
        var limiter = new Kindling.Vmm.RateLimiting.RateLimiter(null, new Kindling.Vmm.RateLimiting.TokenBucket(1, 0, 100, time), time);
        var h = new DeviceHarness(new VirtioBlock("rootfs", DiskBackend.Open("rootfs", _path, true), limiter));
        Submit(h, BlockRequest.VIRTIO_BLK_T_IN, 0, 512, true);
        Submit(h, BlockRequest.VIRTIO_BLK_T_IN, 1, 512, true);
        Assert.Single(h.Q.TakeAllUsed());
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Single(h.Q.TakeAllUsed());
    }
}
