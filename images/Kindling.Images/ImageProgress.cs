namespace Kindling.Images;

/// <summary>
/// A progress report from an image build: the stage ("kernel", "initramfs", "rootfs", "overlay"), a line for
/// people, and the fraction done (0..1) when known. Library code reports through <see cref="IProgress{T}"/> and
/// never writes to the console; <see cref="ImageCommands"/> renders it with Spectre.Console.
/// </summary>
public sealed record ImageProgress(string Stage, string Message, double? Fraction);
