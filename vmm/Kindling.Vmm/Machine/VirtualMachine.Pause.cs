using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Pause and resume (PATCH /vm): every vCPU thread is taken out of KVM_RUN (immediate_exit and the kick signal, as
/// <see cref="Stop"/> does) and parks until <see cref="Resume"/>; devices keep their own threads. While all vCPUs
/// are parked no vCPU ioctl races KVM_RUN, so their state can be read and written (snapshots).
/// </summary>
public sealed partial class VirtualMachine
{
    private readonly object _pauseGate = new();
    private volatile bool _pauseRequested;
    private int _parked;

    /// <summary>True between <see cref="Pause"/> and <see cref="Resume"/>.</summary>
    public bool IsPaused => _pauseRequested;

    /// <summary>
    /// Takes every vCPU out of the guest and waits until all are parked. Throws <see cref="TimeoutException"/> when a
    /// vCPU does not leave KVM_RUN within <paramref name="timeout"/> (the VM is then left pausing: resume it).
    /// </summary>
    public void Pause(TimeSpan timeout)
    {
        lock (_kickGate)
        {
            if (_pauseRequested)
            {
                return;
            }

            _pauseRequested = true;
            foreach (VcpuFd vcpu in _vcpus)
            {
                vcpu.RequestImmediateExit(true);
            }

            for (int i = 0; i < _inRunLoop.Length; i++)
            {
                if (_inRunLoop[i])
                {
                    VcpuKicker.Kick(_threadIds[i]);
                }
            }
        }

        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_pauseGate)
        {
            // A vCPU thread that ends (the guest stopped) no longer counts; check it in short waits.
            while (_parked < Volatile.Read(ref _runningVcpus) && !_stopping)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    throw new TimeoutException($"{Volatile.Read(ref _runningVcpus) - _parked} vCPU(s) did not leave the guest within {timeout.TotalSeconds:0.#} s");
                }

                Monitor.Wait(_pauseGate, (int)Math.Min(left, 50));
            }
        }
    }

    /// <summary>Lets the parked vCPUs enter the guest again.</summary>
    public void Resume()
    {
        lock (_kickGate)
        {
            _pauseRequested = false;
        }

        WakeParkedVcpus();
    }

    private void WakeParkedVcpus()
    {
        lock (_pauseGate)
        {
            Monitor.PulseAll(_pauseGate);
        }
    }

    private void ParkWhilePaused(VcpuFd vcpu)
    {
        lock (_pauseGate)
        {
            _parked++;
            Monitor.PulseAll(_pauseGate);
            while (_pauseRequested && !_stopping)
            {
                Monitor.Wait(_pauseGate);
            }

            _parked--;
        }

        // Under the kick gate, so a Stop or a new Pause that set immediate_exit after this check is never undone.
        lock (_kickGate)
        {
            if (!_stopping && !_pauseRequested)
            {
                vcpu.RequestImmediateExit(false);
            }
        }
    }

    /// <summary>Publishes the vCPUs and starts one thread per vCPU (a thread finding the VM paused parks at once).</summary>
    private void LaunchVcpuThreads(List<VcpuFd> vcpus)
    {
        int count = vcpus.Count;
        var threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            int index = i;
            threads[i] = new Thread(() => RunVcpu(index)) { IsBackground = true, Name = $"vcpu{i}" };
        }

        lock (_kickGate)
        {
            _vcpus = [.. vcpus];
            _threadIds = new nuint[count];
            _inRunLoop = new bool[count];
            _runningVcpus = count;
            _threads = threads;
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }
    }
}
