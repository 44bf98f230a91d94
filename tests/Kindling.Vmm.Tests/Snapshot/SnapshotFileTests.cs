using System.Buffers.Binary;
using Kindling.Vmm.Snapshot;

namespace Kindling.Vmm.Tests.Snapshot;

public sealed class SnapshotFileTests
{
    private const string Path = "/snapshots/vm.state";

    /// <summary>Magic, version, the two origin strings of <see cref="SnapshotTestStates.Origin"/> and the body length.</summary>
    private const int HeaderBytes = 8 + 4 + (4 + 12) + (4 + 4) + 8;

    [Fact]
    public void Decode_FileThisBuildWrote_GivesBackEveryField()
    {
        MicroVmState original = SnapshotTestStates.Sample();

        (SnapshotOrigin origin, ReadOnlyMemory<byte> body) = SnapshotFile.Decode(SnapshotTestStates.SampleFile(), Path);
        MicroVmState decoded = MicroVmStateCodec.Decode(body, Path);

        Assert.Equal(SnapshotTestStates.Origin, origin);
        Assert.Equal(original.ConfigJson, decoded.ConfigJson);
        Assert.Equal(original.Memory, decoded.Memory);
        Assert.Equal(original.Vm, decoded.Vm);
        VcpuKvmState vcpu = Assert.Single(decoded.Vcpus);
        Assert.Equal(original.Vcpus[0] with { Msrs = [] }, vcpu with { Msrs = [] });
        Assert.Equal(original.Vcpus[0].Msrs, vcpu.Msrs);
        Assert.Equal(original.Serial.TransmitHold, decoded.Serial.TransmitHold);
        Assert.Equal(original.Serial with { TransmitHold = [], ReceiveQueue = [] }, decoded.Serial with { TransmitHold = [], ReceiveQueue = [] });
        Assert.Equal(original.I8042, decoded.I8042);
        VirtioDeviceState device = Assert.Single(decoded.Virtio);
        Assert.Equal(original.Virtio[0] with { Transport = null! }, device with { Transport = null! });
        Assert.Equal(original.Virtio[0].Transport.Queues, device.Transport.Queues);
    }

    [Fact]
    public void Decode_EveryTruncation_ClearErrorNeverACrash()
    {
        byte[] file = SnapshotTestStates.SampleFile();
        for (int length = 0; length < file.Length; length += Math.Max(1, length / 7))
        {
            SnapshotException e = Assert.Throws<SnapshotException>(() => SnapshotFile.Decode(file.AsMemory(0, length), Path));
            Assert.Contains(Path, e.Message, StringComparison.Ordinal);
            Assert.True(
                e.Message.Contains("truncated", StringComparison.Ordinal) || e.Message.Contains("not a Kindling snapshot", StringComparison.Ordinal),
                $"length {length}: {e.Message}");
        }
    }

    [Fact]
    public void Decode_OneByteFlippedAnywhereAfterTheHeader_ChecksumRefusesIt()
    {
        byte[] file = SnapshotTestStates.SampleFile();
        for (int at = HeaderBytes; at < file.Length; at += 97)
        {
            byte[] damaged = (byte[])file.Clone();
            damaged[at] ^= 0x10;

            SnapshotException e = Assert.Throws<SnapshotException>(() => SnapshotFile.Decode(damaged, Path));

            Assert.Contains("corrupted", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Decode_OtherFormatVersion_SaysWhichAndWhatToDo()
    {
        byte[] file = SnapshotTestStates.SampleFile();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), SnapshotFile.FormatVersion + 1);

        SnapshotException e = Assert.Throws<SnapshotException>(() => SnapshotFile.Decode(file, Path));

        Assert.Contains($"format version {SnapshotFile.FormatVersion + 1}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"reads version {SnapshotFile.FormatVersion} only", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_NotAStateFile_SaysSo()
    {
        SnapshotException e = Assert.Throws<SnapshotException>(() => SnapshotFile.Decode(new byte[4096], Path));

        Assert.Contains("not a Kindling snapshot state file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_BytesAfterTheEnd_Refused()
    {
        byte[] file = [.. SnapshotTestStates.SampleFile(), 0];

        SnapshotException e = Assert.Throws<SnapshotException>(() => SnapshotFile.Decode(file, Path));

        Assert.Contains("after its end", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AuthenticAMD", "None", "AMD")]
    [InlineData("GenuineIntel", "T2", "CPU template")]
    public void CheckOrigin_OtherVendorOrTemplate_RefusedNamingBoth(string vendor, string template, string expected)
    {
        SnapshotException e = Assert.Throws<SnapshotException>(() =>
            SnapshotFile.CheckOrigin(SnapshotTestStates.Origin, new SnapshotOrigin(vendor, template), Path));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        SnapshotFile.CheckOrigin(SnapshotTestStates.Origin, SnapshotTestStates.Origin, Path);
    }

    [Fact]
    public void CodecDecode_RandomDamageBehindAValidChecksum_OnlySnapshotExceptions()
    {
        byte[] body = MicroVmStateCodec.Encode(SnapshotTestStates.Sample());
        var random = new Random(21);
        for (int i = 0; i < 2000; i++)
        {
            byte[] damaged = (byte[])body.Clone();
            for (int n = random.Next(1, 4); n > 0; n--)
            {
                damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            int length = random.Next(2) == 0 ? damaged.Length : random.Next(damaged.Length);
            try
            {
                MicroVmStateCodec.Decode(damaged.AsMemory(0, length), Path);
            }
            catch (SnapshotException)
            {
                // the only acceptable failure
            }
        }
    }

    [Fact]
    public void Write_ThenRead_RenamedIntoPlaceAndReadable()
    {
        string dir = Directory.CreateTempSubdirectory("ksnap").FullName;
        try
        {
            string path = System.IO.Path.Combine(dir, "vm.state");
            SnapshotFile.Write(path, SnapshotTestStates.SampleFile());

            (SnapshotOrigin origin, _) = SnapshotFile.Read(path);

            Assert.Equal(SnapshotTestStates.Origin, origin);
            Assert.Equal(["vm.state"], Directory.GetFiles(dir).Select(System.IO.Path.GetFileName));
            Assert.Contains("does not exist", Assert.Throws<SnapshotException>(() => SnapshotFile.Read(path + ".missing")).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
