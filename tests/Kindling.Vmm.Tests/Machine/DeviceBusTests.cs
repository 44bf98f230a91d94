using Kindling.Vmm.Devices;
using Kindling.Vmm.Machine;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Tests.Machine;

public sealed class DeviceBusTests
{
    private readonly DeviceBus _bus = new("test", NullLogger.Instance);

    private sealed class RecordingDevice : IBusDevice
    {
        public List<(ulong Offset, byte[] Data)> Writes { get; } = [];
        public List<ulong> Reads { get; } = [];

        public void Read(ulong offset, Span<byte> data)
        {
            Reads.Add(offset);
            data.Fill((byte)offset);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data) => Writes.Add((offset, data.ToArray()));
    }

    [Fact]
    public void Write_InsideARange_ReachesTheDeviceWithARelativeOffset()
    {
        var device = new RecordingDevice();
        _bus.Register(0x3f8, 8, device);

        Assert.True(_bus.Write(0x3fd, [0x41]));

        Assert.Equal(5UL, Assert.Single(device.Writes).Offset);
    }

    [Fact]
    public void Read_InsideARange_ReturnsTheDevicesBytes()
    {
        var device = new RecordingDevice();
        _bus.Register(0xd000_0000, 0x1000, device);
        byte[] data = new byte[4];

        Assert.True(_bus.Read(0xd000_0070, data));

        Assert.Equal(new byte[] { 0x70, 0x70, 0x70, 0x70 }, data);
    }

    [Fact]
    public void Read_Unhandled_ReturnsAllOnesAndCounts()
    {
        byte[] data = new byte[2];

        Assert.False(_bus.Read(0x80, data));

        Assert.Equal(new byte[] { 0xff, 0xff }, data);
        Assert.Equal(1, _bus.UnhandledAccesses);
    }

    [Fact]
    public void Write_Unhandled_IsIgnoredAndCounted()
    {
        Assert.False(_bus.Write(0x80, [1]));
        Assert.Equal(1, _bus.UnhandledAccesses);
    }

    [Fact]
    public void Find_AccessRunningPastTheDeviceEnd_IsUnhandled()
    {
        var device = new RecordingDevice();
        _bus.Register(0x60, 5, device);
        byte[] data = new byte[4];

        Assert.False(_bus.Read(0x63, data));
        Assert.Empty(device.Reads);
    }

    [Fact]
    public void Find_ManyRanges_PicksTheRightOne()
    {
        var devices = Enumerable.Range(0, 20).Select(_ => new RecordingDevice()).ToArray();
        for (int i = devices.Length - 1; i >= 0; i--)
        {
            _bus.Register(0xd000_0000UL + ((ulong)i * 0x1000), 0x1000, devices[i]);
        }

        for (int i = 0; i < devices.Length; i++)
        {
            Assert.Same(devices[i], _bus.Find(0xd000_0000UL + ((ulong)i * 0x1000) + 0xfff, 1)!.Device);
        }

        Assert.Null(_bus.Find(0xd000_0000UL + (20 * 0x1000), 1));
        Assert.Null(_bus.Find(0xcfff_ffff, 1));
    }

    [Theory]
    [InlineData(0x3f0UL, 0x9UL)]
    [InlineData(0x3ffUL, 1UL)]
    [InlineData(0x3f0UL, 0x100UL)]
    public void Register_Overlapping_ThrowsNamingTheExistingDevice(ulong start, ulong size)
    {
        _bus.Register(0x3f8, 8, new RecordingDevice());

        ArgumentException e = Assert.Throws<ArgumentException>(() => _bus.Register(start, size, new RecordingDevice()));

        Assert.Contains("overlaps RecordingDevice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Register_Adjacent_IsAllowed()
    {
        _bus.Register(0x3f8, 8, new RecordingDevice());
        _bus.Register(0x400, 8, new RecordingDevice());
        _bus.Register(0x3f0, 8, new RecordingDevice());

        Assert.Equal([0x3f0UL, 0x3f8UL, 0x400UL], _bus.Ranges.Select(r => r.Base));
    }

    [Fact]
    public void Register_EmptyOrWrapping_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _bus.Register(0x10, 0, new RecordingDevice()));
        Assert.Throws<ArgumentOutOfRangeException>(() => _bus.Register(ulong.MaxValue, 2, new RecordingDevice()));
    }
}
