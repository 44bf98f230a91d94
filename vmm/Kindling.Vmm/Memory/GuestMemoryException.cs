namespace Kindling.Vmm.Memory;

/// <summary>A guest address or length outside guest RAM. Devices catch it and fail only the request at hand.</summary>
public sealed class GuestMemoryException : Exception
{
    public GuestMemoryException(string message) : base(message)
    {
    }

    public GuestMemoryException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public GuestMemoryException()
    {
    }
}
