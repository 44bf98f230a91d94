namespace Kindling.Images;

/// <summary>Marker for the images assembly.</summary>
public static class ImagesAssembly
{
}
