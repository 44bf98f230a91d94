namespace Kindling.Vmm.Config;

/// <summary>A configuration the VMM refuses; the message names the field and what to fix.</summary>
public sealed class VmConfigException : Exception
{
    public VmConfigException(string message) : base(message)
    {
    }

    public VmConfigException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public VmConfigException()
    {
    }
}
