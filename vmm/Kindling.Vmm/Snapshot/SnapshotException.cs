namespace Kindling.Vmm.Snapshot;

/// <summary>
/// A snapshot cannot be written, read or applied; the message names the file and what to do (take the snapshot
/// again, use the matching kindling-vmm, use a host of the same CPU vendor). Never a crash of the VMM.
/// </summary>
public sealed class SnapshotException : Exception
{
    public SnapshotException(string message) : base(message)
    {
    }

    public SnapshotException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public SnapshotException()
    {
    }
}
