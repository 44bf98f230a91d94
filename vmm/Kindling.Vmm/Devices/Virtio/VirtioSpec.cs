namespace Kindling.Vmm.Devices.Virtio;

/// <summary>Feature bits, status bits and device IDs from the virtio 1.2 specification.</summary>
public static class VirtioSpec
{
    // Reserved feature bits (virtio 1.2 §6).
    public const int VIRTIO_F_INDIRECT_DESC = 28;
    public const int VIRTIO_F_EVENT_IDX = 29;
    public const int VIRTIO_F_VERSION_1 = 32;

    // Device status field (§2.1).
    public const uint ACKNOWLEDGE = 1;
    public const uint DRIVER = 2;
    public const uint DRIVER_OK = 4;
    public const uint FEATURES_OK = 8;
    public const uint DEVICE_NEEDS_RESET = 64;
    public const uint FAILED = 128;

    // Device IDs (§5).
    public const uint VIRTIO_ID_NET = 1;
    public const uint VIRTIO_ID_BLOCK = 2;
    public const uint VIRTIO_ID_RNG = 4;
    public const uint VIRTIO_ID_VSOCK = 19;

    /// <summary>The feature bit as a mask.</summary>
    public static ulong Bit(int feature) => 1UL << feature;
}
