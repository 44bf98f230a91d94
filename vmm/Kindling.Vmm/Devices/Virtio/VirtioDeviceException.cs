namespace Kindling.Vmm.Devices.Virtio;

/// <summary>A device cannot be created from its configuration (missing disk file, missing TAP, bad path). The message names the field and the fix.</summary>
public sealed class VirtioDeviceException : Exception
{
    public VirtioDeviceException(string message) : base(message)
    {
    }

    public VirtioDeviceException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public VirtioDeviceException()
    {
    }
}
