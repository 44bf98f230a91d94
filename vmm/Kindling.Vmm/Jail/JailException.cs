namespace Kindling.Vmm.Jail;

/// <summary>A jail that cannot be built or torn down: one message naming what is wrong and how to fix it.</summary>
public sealed class JailException : Exception
{
    public JailException(string message) : base(message)
    {
    }

    public JailException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public JailException()
    {
    }
}
