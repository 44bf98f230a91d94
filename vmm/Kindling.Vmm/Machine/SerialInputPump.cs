using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Copies host input (stdin) into the UART's bounded receive queue on a background thread, waiting for
/// <see cref="Serial8250.InputSpaceAvailable"/> when the guest has not drained it, so no input is lost.
/// </summary>
public sealed class SerialInputPump : IDisposable
{
    private readonly Stream _input;
    private readonly Serial8250 _serial;
    private readonly SemaphoreSlim _space = new(0);
    private readonly CancellationTokenSource _cancel = new();
    private readonly Thread _thread;

    public SerialInputPump(Stream input, Serial8250 serial)
    {
        _input = input;
        _serial = serial;
        _serial.InputSpaceAvailable += OnSpace;
        _thread = new Thread(Run) { IsBackground = true, Name = "serial-stdin" };
    }

    public void Start() => _thread.Start();

    public void Dispose()
    {
        _serial.InputSpaceAvailable -= OnSpace;
        _cancel.Cancel();
    }

    private void OnSpace()
    {
        if (_space.CurrentCount == 0)
        {
            _space.Release();
        }
    }

    private void Run()
    {
        byte[] buffer = new byte[256];
        try
        {
            while (!_cancel.IsCancellationRequested)
            {
                int read = _input.Read(buffer, 0, buffer.Length);
                if (read <= 0)
                {
                    return;
                }

                int offset = 0;
                while (offset < read)
                {
                    offset += _serial.EnqueueInput(buffer.AsSpan(offset, read - offset));
                    if (offset < read)
                    {
                        _space.Wait(_cancel.Token);
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Input closed or the VM is going away.
        }
    }
}
