namespace Kindling.Vmm.Devices.Virtio;

/// <summary>virtio-mmio register offsets (virtio 1.2 §4.2.2), names as in the spec.</summary>
public static class VirtioMmio
{
    public const ulong MagicValue = 0x000;
    public const ulong Version = 0x004;
    public const ulong DeviceID = 0x008;
    public const ulong VendorID = 0x00c;
    public const ulong DeviceFeatures = 0x010;
    public const ulong DeviceFeaturesSel = 0x014;
    public const ulong DriverFeatures = 0x020;
    public const ulong DriverFeaturesSel = 0x024;
    public const ulong QueueSel = 0x030;
    public const ulong QueueNumMax = 0x034;
    public const ulong QueueNum = 0x038;
    public const ulong QueueReady = 0x044;
    public const ulong QueueNotify = 0x050;
    public const ulong InterruptStatus = 0x060;
    public const ulong InterruptACK = 0x064;
    public const ulong Status = 0x070;
    public const ulong QueueDescLow = 0x080;
    public const ulong QueueDescHigh = 0x084;
    public const ulong QueueDriverLow = 0x090;
    public const ulong QueueDriverHigh = 0x094;
    public const ulong QueueDeviceLow = 0x0a0;
    public const ulong QueueDeviceHigh = 0x0a4;
    public const ulong ConfigGeneration = 0x0fc;
    public const ulong Config = 0x100;

    /// <summary>"virt" in little-endian.</summary>
    public const uint MagicValueVirt = 0x74726976;

    /// <summary>The modern (virtio 1.x) transport.</summary>
    public const uint VersionModern = 2;

    /// <summary>Vendor ID reported by Kindling's devices ("KNDL").</summary>
    public const uint KindlingVendorId = 0x4c444e4b;

    /// <summary>Size of one transport's MMIO window (what `virtio_mmio.device=4K@…` names).</summary>
    public const ulong WindowSize = 0x1000;
}
