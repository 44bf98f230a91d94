namespace Kindling.Images.Tools;

/// <summary>chmod for the trees we build (Linux only, like the rest of Kindling).</summary>
internal static class UnixMode
{
    public static void Set(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("image building needs Linux");
        }

        File.SetUnixFileMode(path, mode);
    }
}
