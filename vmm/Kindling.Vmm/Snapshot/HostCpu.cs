using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;

namespace Kindling.Vmm.Snapshot;

/// <summary>The host's CPU identity that a snapshot records and a restore compares.</summary>
public static class HostCpu
{
    /// <summary>CPUID leaf 0's vendor string ("GenuineIntel", "AuthenticAMD"), or "unknown" off x86.</summary>
    public static string Vendor { get; } = ReadVendor();

    public static SnapshotOrigin Origin(string cpuTemplate) => new(Vendor, cpuTemplate);

    private static string ReadVendor()
    {
        if (!X86Base.IsSupported)
        {
            return "unknown";
        }

        (int _, int ebx, int ecx, int edx) = X86Base.CpuId(0, 0);
        Span<byte> text = stackalloc byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(text, ebx);
        BinaryPrimitives.WriteInt32LittleEndian(text[4..], edx);
        BinaryPrimitives.WriteInt32LittleEndian(text[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(text);
    }
}
