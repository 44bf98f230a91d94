using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Machine;

/// <summary>
/// The vCPU threads of one machine: one thread per vCPU calling KVM_RUN and handing each exit to the machine, and the
/// stop, pause and resume protocol around them (Firecracker's vCPU state machine, vstate/vcpu).
/// <para>Getting a vCPU out of the guest: set <c>kvm_run.immediate_exit</c>, then send the kick signal
/// (<see cref="VcpuKicker"/>). A thread inside the guest is forced out with EINTR; one that is handling an exit finds
/// immediate_exit set on its next KVM_RUN.</para>
/// <para>Parking is only done right after a KVM_RUN that returned EINTR (<see cref="VcpuExitKind.Intr"/>). KVM
/// completes an IN or MMIO load (the data userspace wrote into kvm_run goes into the guest's register) only when
/// KVM_RUN is entered again, before it looks at immediate_exit (api.rst, "immediate_exit"): a vCPU parked straight
/// after handling such an exit would hold half an instruction, and a snapshot taken then would lose the data. A
/// vCPU started paused (a restored snapshot) is entered once with immediate_exit set for the same reason.</para>
/// </summary>
/// <typeparam name="TVcpu">The vCPU type handed to the exit handler (<see cref="VcpuFd"/>; a double in tests).</typeparam>
public sealed class VcpuRunLoop<TVcpu>
    where TVcpu : class, IVcpuRun
{
    private readonly Func<TVcpu, VcpuExit, bool> _handleExit;
    private readonly Action<VmExit> _stopOnError;
    private readonly Action? _onFirstRun;
    private int _firstRunDone;
    private readonly TaskCompletionSource<VmExit> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The kick gate orders immediate_exit stores and kicks against thread start/end and the pause flag.
    private readonly object _kickGate = new();

    // The pause gate guards the parked count; parked threads wait on it.
    private readonly object _pauseGate = new();
    private TVcpu[] _vcpus = [];
    private Thread[] _threads = [];
    private nuint[] _threadIds = [];
    private bool[] _inRunLoop = [];
    private VmExit? _exit;
    private volatile bool _stopping;
    private volatile bool _pauseRequested;
    private int _running;
    private int _parked;
    private int _launched;

    /// <param name="handleExit">Handles one exit on the vCPU's thread; false ends that vCPU's thread.</param>
    /// <param name="stopOnError">Called with the reason when a vCPU thread fails (KVM_RUN or the handler threw); it
    /// must end in <see cref="Stop"/>. Null: <see cref="Stop"/> itself.</param>
    /// <param name="onFirstRun">Called once, on the vCPU thread that gets there first, just before the first KVM_RUN.</param>
    public VcpuRunLoop(Func<TVcpu, VcpuExit, bool> handleExit, Action<VmExit>? stopOnError = null, Action? onFirstRun = null)
    {
        ArgumentNullException.ThrowIfNull(handleExit);
        _handleExit = handleExit;
        _stopOnError = stopOnError ?? (reason => Stop(reason));
        _onFirstRun = onFirstRun;
    }

    /// <summary>The vCPUs given to <see cref="Launch"/> (empty before).</summary>
    public IReadOnlyList<TVcpu> Vcpus => Volatile.Read(ref _vcpus);

    /// <summary>Completes once every vCPU thread has ended, with the first stop reason.</summary>
    public Task<VmExit> Completion => _completion.Task;

    /// <summary>True once <see cref="Stop"/> was called.</summary>
    public bool IsStopping => _stopping;

    /// <summary>True between a pause request and <see cref="Resume"/>.</summary>
    public bool IsPaused => _pauseRequested;

    /// <summary>True when a pause was requested and every running vCPU has parked (its state may be read then).</summary>
    public bool AllParked => _pauseRequested && Volatile.Read(ref _parked) >= Volatile.Read(ref _running);

    /// <summary>
    /// Starts one thread per vCPU. With <paramref name="paused"/> the vCPUs enter KVM_RUN once with immediate_exit set
    /// (which completes whatever the kernel still has pending) and park before running guest code.
    /// </summary>
    public void Launch(IReadOnlyList<TVcpu> vcpus, bool paused)
    {
        ArgumentNullException.ThrowIfNull(vcpus);
        if (Interlocked.Exchange(ref _launched, 1) != 0)
        {
            throw new InvalidOperationException("the vCPU threads were already started");
        }

        VcpuKicker.EnsureInstalled();
        int count = vcpus.Count;
        var threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            int index = i;
            threads[i] = new Thread(() => RunVcpu(index)) { IsBackground = true, Name = $"vcpu{i}" };
        }

        lock (_kickGate)
        {
            // Threads launched after a Stop end at once; Stop has completed Completion already.
            _vcpus = [.. vcpus];
            _threadIds = new nuint[count];
            _inRunLoop = new bool[count];
            _running = count;
            _threads = threads;
            _pauseRequested |= paused;
            if (_pauseRequested)
            {
                foreach (TVcpu vcpu in _vcpus)
                {
                    vcpu.RequestImmediateExit(true);
                }
            }
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }
    }

    /// <summary>
    /// Takes every vCPU out of the guest for good; the first reason given becomes <see cref="Completion"/>'s result.
    /// Safe from any thread, a vCPU thread included, and idempotent. True when <paramref name="reason"/> was the first.
    /// </summary>
    public bool Stop(VmExit reason)
    {
        bool first = TrySetExitReason(reason);
        lock (_kickGate)
        {
            _stopping = true;
            KickAll(immediateExit: true);
            if (_threads.Length == 0)
            {
                // No vCPU thread was ever started: nothing to wait for.
                _completion.TrySetResult(_exit!);
            }
        }

        WakeParked();
        return first;
    }

    /// <summary>Records <paramref name="reason"/> as the stop reason unless one was recorded before; true when it was the first.</summary>
    public bool TrySetExitReason(VmExit reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        return Interlocked.CompareExchange(ref _exit, reason, null) is null;
    }

    /// <summary>Asks every vCPU to park (immediate_exit and a kick) without waiting; see <see cref="WaitUntilParked"/>.</summary>
    public void RequestPause()
    {
        lock (_kickGate)
        {
            if (_pauseRequested)
            {
                return;
            }

            _pauseRequested = true;
            KickAll(immediateExit: true);
        }
    }

    /// <summary>
    /// Waits until every running vCPU has parked. Throws <see cref="TimeoutException"/> when one has not within
    /// <paramref name="timeout"/> (the loop is left pausing: <see cref="Resume"/> it). Returns early when the VM stops.
    /// </summary>
    public void WaitUntilParked(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_pauseGate)
        {
            // A vCPU thread that ends (the guest stopped) no longer counts; check it in short waits.
            while (_parked < Volatile.Read(ref _running) && !_stopping)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    throw new TimeoutException($"{Volatile.Read(ref _running) - _parked} vCPU(s) did not leave the guest within {timeout.TotalSeconds:0.#} s");
                }

                Monitor.Wait(_pauseGate, (int)Math.Min(left, 50));
            }
        }
    }

    /// <summary><see cref="RequestPause"/>, then <see cref="WaitUntilParked"/>.</summary>
    public void Pause(TimeSpan timeout)
    {
        RequestPause();
        WaitUntilParked(timeout);
    }

    /// <summary>Lets the parked vCPUs enter the guest again (each clears its own immediate_exit).</summary>
    public void Resume()
    {
        lock (_kickGate)
        {
            _pauseRequested = false;
        }

        WakeParked();
    }

    /// <summary>Kicks every vCPU that is in the guest now, without immediate_exit (a sample of where they are).</summary>
    public void KickRunning()
    {
        lock (_kickGate)
        {
            if (!_stopping)
            {
                KickAll(immediateExit: false);
            }
        }
    }

    /// <summary>Waits for every vCPU thread but the calling one to end (after <see cref="Stop"/>).</summary>
    public void Join()
    {
        foreach (Thread thread in Volatile.Read(ref _threads))
        {
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }
    }

    /// <summary>Under the kick gate: optionally sets immediate_exit on every vCPU, then signals each thread in its loop.</summary>
    private void KickAll(bool immediateExit)
    {
        if (immediateExit)
        {
            foreach (TVcpu vcpu in _vcpus)
            {
                vcpu.RequestImmediateExit(true);
            }
        }

        for (int i = 0; i < _inRunLoop.Length; i++)
        {
            // The calling vCPU thread is not in KVM_RUN; its own immediate_exit covers its next entry.
            if (_inRunLoop[i] && _threads[i] != Thread.CurrentThread)
            {
                VcpuKicker.Kick(_threadIds[i]);
            }
        }
    }

    private void RunVcpu(int index)
    {
        TVcpu vcpu = _vcpus[index];
        lock (_kickGate)
        {
            _threadIds[index] = VcpuKicker.CurrentThread();
            _inRunLoop[index] = true;
        }

        try
        {
            if (_onFirstRun is not null && Interlocked.Exchange(ref _firstRunDone, 1) == 0)
            {
                _onFirstRun();
            }

            while (!_stopping)
            {
                VcpuExit exit = vcpu.Run();
                if (exit.Kind == VcpuExitKind.Intr)
                {
                    // KVM_RUN finished the last exit's I/O before it returned EINTR: the vCPU is between instructions.
                    if (_pauseRequested)
                    {
                        Park();
                    }

                    ClearImmediateExitUnlessWanted(vcpu);
                }

                if (!_handleExit(vcpu, exit))
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            _stopOnError(new VmExit(VmExitReason.Error, $"vCPU {vcpu.Id}: {e.Message}"));
        }
        finally
        {
            lock (_kickGate)
            {
                _inRunLoop[index] = false;
            }

            int left;
            lock (_pauseGate)
            {
                left = --_running;
                Monitor.PulseAll(_pauseGate);
            }

            if (left == 0)
            {
                _completion.TrySetResult(Volatile.Read(ref _exit) ?? new VmExit(VmExitReason.Stopped));
            }
        }
    }

    private void Park()
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
    }

    /// <summary>
    /// After EINTR: clears immediate_exit unless a stop or pause still wants it (a pause that was resumed before this
    /// vCPU parked would otherwise leave it returning EINTR forever). Under the kick gate, so a Stop or a new pause
    /// that set it after the check is never undone.
    /// </summary>
    private void ClearImmediateExitUnlessWanted(TVcpu vcpu)
    {
        lock (_kickGate)
        {
            if (!_stopping && !_pauseRequested)
            {
                vcpu.RequestImmediateExit(false);
            }
        }
    }

    private void WakeParked()
    {
        lock (_pauseGate)
        {
            Monitor.PulseAll(_pauseGate);
        }
    }
}
