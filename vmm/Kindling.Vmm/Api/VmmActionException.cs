namespace Kindling.Vmm.Api;

/// <summary>The backend refused an action; the message goes to the API client as fault_message.</summary>
public sealed class VmmActionException : Exception
{
    public VmmActionException(string message) : base(message)
    {
    }

    public VmmActionException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public VmmActionException()
    {
    }
}
