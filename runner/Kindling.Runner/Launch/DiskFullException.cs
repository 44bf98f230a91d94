namespace Kindling.Runner.Launch;

/// <summary>
/// A job's files (its overlay, first of all) do not fit on the state directory's filesystem. The job fails with
/// this reason; the runner itself keeps going, and later jobs run once space is freed.
/// </summary>
public sealed class DiskFullException(string what, string directory, string detail, Exception? inner = null)
    : IOException($"disk full while {what} in {directory}: {detail}; free space on that filesystem or move Kindling:StateDirectory", inner)
{
    /// <summary>strerror(ENOSPC), as mkfs and the runtime word it.</summary>
    public const string NoSpaceText = "No space left on device";

    private const int ENOSPC = 28;

    /// <summary>Whether an error (or a tool's error output) says the filesystem is full.</summary>
    public static bool Indicates(Exception e) =>
        e is DiskFullException || e.HResult == ENOSPC || e.Message.Contains(NoSpaceText, StringComparison.OrdinalIgnoreCase) ||
        (e.InnerException is { } inner && Indicates(inner));
}
