using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Tests.Machine;

/// <summary>One scripted KVM_RUN result: the exit, and for I/O and MMIO exits the kvm_run data bytes.</summary>
/// <param name="Continuation">The next fragment of a split access (a string IN crossing a page, an MMIO access wider
/// than 8 bytes): KVM hands it out while completing the previous exit, even with immediate_exit set.</param>
internal sealed record ScriptedExit(VcpuExit Exit, byte[] Data, bool Continuation = false)
{
    public static ScriptedExit IoIn(ushort port, int size) =>
        new(new VcpuExit { Kind = VcpuExitKind.IoIn, ExitReason = KvmExitReason.Io, Address = port, Size = size, Count = 1 }, new byte[size]);

    public static ScriptedExit IoOut(ushort port, byte value) =>
        new(new VcpuExit { Kind = VcpuExitKind.IoOut, ExitReason = KvmExitReason.Io, Address = port, Size = 1, Count = 1 }, [value]);

    public static ScriptedExit MmioRead(ulong address, int size, bool continuation = false) =>
        new(new VcpuExit { Kind = VcpuExitKind.MmioRead, ExitReason = KvmExitReason.Mmio, Address = address, Size = size, Count = 1 }, new byte[size], continuation);

    public static ScriptedExit Hlt() => new(new VcpuExit { Kind = VcpuExitKind.Hlt, ExitReason = KvmExitReason.Hlt }, []);
}

/// <summary>
/// A vCPU double for the run loop that keeps KVM_RUN's rules (api.rst, "immediate_exit"): each Run first completes
/// the last IN or MMIO-read exit (the bytes the loop left in <see cref="ExitData"/> reach the guest's register, recorded
/// in <see cref="Delivered"/>), then hands out a continuation fragment if one is scripted, then returns EINTR at once
/// when immediate_exit is set, and otherwise "runs the guest": returns the next scripted exit, or stays in the guest
/// until immediate_exit is set (the kick) and returns EINTR.
/// It refuses what KVM refuses or what would hang a test: two concurrent Runs, and more than <see cref="MaxRuns"/>
/// entries (a loop spinning on EINTR).
/// </summary>
internal sealed class ScriptedVcpu(int id = 0) : IVcpuRun
{
    public const int MaxRuns = 1000;

    private readonly object _gate = new();
    private readonly Queue<ScriptedExit> _script = new();
    private readonly List<string> _events = [];
    private readonly List<byte[]> _delivered = [];
    private byte[] _exitData = [];
    private VcpuExit? _pending;
    private bool _immediateExit;
    private int _inRun;
    private int _runs;

    public int Id { get; } = id;

    /// <summary>Set while a Run waits "in the guest" for a kick.</summary>
    public ManualResetEventSlim InGuest { get; } = new();

    public Span<byte> ExitData => _exitData;

    /// <summary>What happened, in order: "exit IoIn", "completed IoIn", "intr", and notes of the test's handler.</summary>
    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>The bytes of each completed IN / MMIO read, as the guest received them.</summary>
    public IReadOnlyList<byte[]> Delivered
    {
        get
        {
            lock (_gate)
            {
                return [.. _delivered];
            }
        }
    }

    /// <summary>True while an exit's I/O waits for the next Run to complete it (half an instruction).</summary>
    public bool HasPendingIo
    {
        get
        {
            lock (_gate)
            {
                return _pending is not null;
            }
        }
    }

    public bool ImmediateExit
    {
        get
        {
            lock (_gate)
            {
                return _immediateExit;
            }
        }
    }

    public int Runs => Volatile.Read(ref _runs);

    public void Enqueue(params ScriptedExit[] exits)
    {
        lock (_gate)
        {
            foreach (ScriptedExit exit in exits)
            {
                _script.Enqueue(exit);
            }

            Monitor.PulseAll(_gate);
        }
    }

    public void Note(string text)
    {
        lock (_gate)
        {
            _events.Add(text);
        }
    }

    public void RequestImmediateExit(bool value)
    {
        lock (_gate)
        {
            _immediateExit = value;
            Monitor.PulseAll(_gate);
        }
    }

    public VcpuExit Run()
    {
        if (Interlocked.Exchange(ref _inRun, 1) != 0)
        {
            throw new InvalidOperationException("KVM_RUN entered on a vCPU that is already in KVM_RUN");
        }

        try
        {
            lock (_gate)
            {
                if (++_runs > MaxRuns)
                {
                    throw new InvalidOperationException($"KVM_RUN entered more than {MaxRuns} times: the run loop spins");
                }

                CompletePendingIo();
                if (_script.TryPeek(out ScriptedExit? next) && next.Continuation)
                {
                    return Take();
                }

                while (!_immediateExit && _script.Count == 0)
                {
                    InGuest.Set();
                    Monitor.Wait(_gate);
                }

                InGuest.Reset();
                if (_immediateExit)
                {
                    _events.Add("intr");
                    _exitData = [];
                    return VcpuExit.Interrupted;
                }

                return Take();
            }
        }
        finally
        {
            Volatile.Write(ref _inRun, 0);
        }
    }

    private void CompletePendingIo()
    {
        if (_pending is { } pending)
        {
            if (pending.Kind is VcpuExitKind.IoIn or VcpuExitKind.MmioRead)
            {
                _delivered.Add([.. _exitData]);
            }

            _events.Add($"completed {pending.Kind}");
            _pending = null;
        }
    }

    private VcpuExit Take()
    {
        ScriptedExit next = _script.Dequeue();
        _exitData = [.. next.Data];
        _events.Add($"exit {next.Exit.Kind}");
        if (next.Exit.Kind is VcpuExitKind.IoIn or VcpuExitKind.IoOut or VcpuExitKind.MmioRead or VcpuExitKind.MmioWrite)
        {
            _pending = next.Exit;
        }

        return next.Exit;
    }
}
