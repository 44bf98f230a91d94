namespace Kindling.Vmm.Boot;

/// <summary>A kernel, initrd or boot parameter the VMM cannot use. The message names the file and what is wrong with it.</summary>
public sealed class BootException : Exception
{
    public BootException(string message) : base(message)
    {
    }

    public BootException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public BootException()
    {
    }
}
