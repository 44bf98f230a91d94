namespace Kindling.Vmm.Mmds;

/// <summary>A refused change to the metadata store; the message is for the API client.</summary>
public sealed class MmdsException : Exception
{
    public MmdsException(string message) : base(message)
    {
    }

    public MmdsException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public MmdsException()
    {
    }
}
