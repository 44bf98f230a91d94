using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>read/write/pread/pwrite/fsync on a descriptor: EINTR retried, EAGAIN reported, any other errno thrown.</summary>
// SAFETY: every pointer is a pinned span passed with its own length (see each fixed block).
public static unsafe class FdIo
{
    /// <summary>read(2); the bytes read (0 at end of file), or -1 when a non-blocking descriptor has nothing (EAGAIN).</summary>
    public static int Read(SafeHandle fd, Span<byte> buffer)
    {
        // SAFETY: the span is pinned for the call and read(2) writes at most buffer.Length bytes into it.
        fixed (byte* p = buffer)
        {
            return Transfer(fd, p, buffer.Length, &Libc.Read, "read");
        }
    }

    /// <summary>write(2); the bytes written, or -1 when a non-blocking descriptor is full (EAGAIN).</summary>
    public static int Write(SafeHandle fd, ReadOnlySpan<byte> buffer)
    {
        // SAFETY: the span is pinned for the call and write(2) reads at most buffer.Length bytes from it.
        fixed (byte* p = buffer)
        {
            return Transfer(fd, p, buffer.Length, &Libc.Write, "write");
        }
    }

    /// <summary>pread(2) until the span is full or end of file; returns the bytes read.</summary>
    public static int Pread(SafeHandle fd, Span<byte> buffer, long offset)
    {
        // SAFETY: the span is pinned; each pread(2) writes inside [p, p + buffer.Length).
        fixed (byte* p = buffer)
        {
            return TransferAll(fd, p, buffer.Length, offset, &Libc.Pread, "pread");
        }
    }

    /// <summary>pwrite(2) of the whole span.</summary>
    public static void Pwrite(SafeHandle fd, ReadOnlySpan<byte> buffer, long offset)
    {
        int done;
        // SAFETY: the span is pinned; each pwrite(2) reads inside [p, p + buffer.Length).
        fixed (byte* p = buffer)
        {
            done = TransferAll(fd, p, buffer.Length, offset, &Libc.Pwrite, "pwrite");
        }

        if (done < buffer.Length)
        {
            throw new IOException($"pwrite wrote {done} of {buffer.Length} bytes at offset {offset}: the file accepts no more");
        }
    }

    public static void Fsync(SafeHandle fd)
    {
        if (Libc.Fsync(fd) < 0)
        {
            throw SyscallException.Last("fsync");
        }
    }

    /// <summary>
    /// mkfifo(3), mode 0600 unless said (only this user, the runner and the VMM it starts, may open it); throws
    /// <see cref="SyscallException"/> ("mkfifo PATH") when it fails.
    /// </summary>
    public static void MakeFifo(string path, uint mode = (uint)(UnixFileMode.UserRead | UnixFileMode.UserWrite))
    {
        if (Libc.Mkfifo(path, mode) != 0)
        {
            throw SyscallException.Last($"mkfifo {path}");
        }
    }

    /// <summary>One read(2) or write(2) of [p, p + length), made again on EINTR; -1 on EAGAIN.</summary>
    private static int Transfer(SafeHandle fd, byte* p, int length, delegate*<SafeHandle, byte*, nuint, nint> call, string name)
    {
        while (true)
        {
            nint n = call(fd, p, (nuint)length);
            if (n >= 0)
            {
                return (int)n;
            }

            if (!Retry(out int errno))
            {
                return errno == Libc.EAGAIN ? -1 : throw new SyscallException(name, errno);
            }
        }
    }

    /// <summary>
    /// pread(2) or pwrite(2) of [p, p + length) at <paramref name="offset"/> until all is done or a call moves no byte
    /// (end of file); short transfers continue where they stopped, EINTR is retried. Returns the bytes moved.
    /// </summary>
    private static int TransferAll(SafeHandle fd, byte* p, int length, long offset, delegate*<SafeHandle, byte*, nuint, long, nint> call, string name)
    {
        int done = 0;
        while (done < length)
        {
            nint n = call(fd, p + done, (nuint)(length - done), offset + done);
            if (n < 0)
            {
                if (Retry(out int errno))
                {
                    continue;
                }

                throw new SyscallException(name, errno);
            }

            if (n == 0)
            {
                break;
            }

            done += (int)n;
        }

        return done;
    }

    /// <summary>True when the call was interrupted by a signal (EINTR) and should be made again.</summary>
    private static bool Retry(out int errno)
    {
        errno = Marshal.GetLastPInvokeError();
        return errno == Libc.EINTR;
    }
}
