namespace Kindling.Images.Overlays;

/// <summary>A file to place in a job's workspace: path relative to the workspace, its bytes and mode.</summary>
public sealed record OverlayFile(string RelativePath, ReadOnlyMemory<byte> Content, UnixFileMode Mode = (UnixFileMode)0x1A4);
