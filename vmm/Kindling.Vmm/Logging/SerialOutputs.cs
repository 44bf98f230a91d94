using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Logging;

/// <summary>Opens the sink for <c>serial.serial_out_path</c>: a FIFO gets a lossless <see cref="PipeSerialOutput"/>, a file is appended to.</summary>
public static class SerialOutputs
{
    /// <summary>The suffix of the spill file next to a FIFO.</summary>
    public const string SpillSuffix = ".spill";

    /// <summary>
    /// Opens <paramref name="path"/>. A FIFO is opened read-write, which never blocks (even with no reader yet) and
    /// keeps the pipe open when a reader goes away, so output waits in the pipe for the next reader instead of failing.
    /// </summary>
    public static ISerialOutput Open(string path, TimeProvider time, TimeSpan? spillAfter = null, int bufferBytes = PipeSerialOutput.DefaultBufferBytes)
    {
        if (!File.Exists(path))
        {
            return new FileSerialOutput(path);
        }

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"serial.serial_out_path {path} cannot be opened for writing: {e.Message}", e);
        }

        if (stream.CanSeek)
        {
            stream.Dispose();
            return new FileSerialOutput(path);
        }

        return new PipeSerialOutput(stream, path + SpillSuffix, time, bufferBytes, spillAfter);
    }

    /// <summary>The VMM's stdout (possibly a pipe): buffered with back-pressure, never spilled.</summary>
    public static ISerialOutput ForStdout(Stream stdout, TimeProvider time) => new PipeSerialOutput(stdout, null, time);
}
