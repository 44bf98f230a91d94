namespace Kindling.Images;

/// <summary>
/// An image could not be built or used. The message names the file, package or setting at fault and what to do;
/// nothing half-written is left in the cache when this is thrown.
/// </summary>
public sealed class ImageBuildException : Exception
{
    public ImageBuildException()
    {
    }

    public ImageBuildException(string message) : base(message)
    {
    }

    public ImageBuildException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
