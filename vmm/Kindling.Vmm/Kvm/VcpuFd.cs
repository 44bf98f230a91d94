using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Kvm;

/// <summary>
/// One virtual CPU: register state, CPUID/MSRs/LAPIC set-up, and KVM_RUN with its mmap'ed kvm_run page.
/// Not thread-safe except <see cref="RequestImmediateExit"/>, which any thread may call.
/// </summary>
// SAFETY: _run points at this vCPU's kvm_run mapping (at least sizeof(KvmRun) bytes, checked in Create) until Dispose unmaps it; only the owning vCPU thread dereferences it, except RequestImmediateExit's one-byte store.
public sealed unsafe class VcpuFd : KvmFd, IVcpuRun
{
    private KvmRun* _run;
    private nuint _runSize;

    private VcpuFd(int fd, int id) : base(fd) => Id = id;

    /// <summary>The vCPU index (also its APIC ID).</summary>
    public int Id { get; }

    internal static VcpuFd Create(int fd, int id, int mmapSize)
    {
        var vcpu = new VcpuFd(fd, id);
        if (mmapSize < sizeof(KvmRun))
        {
            vcpu.Dispose();
            throw new KvmException($"KVM_GET_VCPU_MMAP_SIZE is {mmapSize}, smaller than struct kvm_run ({sizeof(KvmRun)})");
        }

        nint mapped = LibcMemory.Mmap(0, (nuint)mmapSize, LibcMemory.PROT_READ | LibcMemory.PROT_WRITE, LibcMemory.MAP_SHARED, vcpu, 0);
        if (mapped == LibcMemory.MapFailed)
        {
            int errno = Marshal.GetLastPInvokeError();
            vcpu.Dispose();
            throw new KvmException($"mmap of kvm_run for vCPU {id}", errno);
        }

        vcpu._run = (KvmRun*)mapped;
        vcpu._runSize = (nuint)mmapSize;
        return vcpu;
    }

    /// <inheritdoc/>
    /// <remarks>The bytes lie inside the kvm_run page.</remarks>
    public Span<byte> ExitData
    {
        get
        {
            KvmRun* run = _run;
            switch (run->ExitReason)
            {
                case KvmExitReason.Io:
                    ulong bytes = (ulong)run->Exit.Io.Size * run->Exit.Io.Count;
                    ulong offset = run->Exit.Io.DataOffset;
                    if (offset >= _runSize || bytes > _runSize - offset)
                    {
                        throw new KvmException($"kvm_run.io data [0x{offset:x}, +{bytes}) lies outside the {_runSize}-byte kvm_run mapping");
                    }

                    // SAFETY: offset and length were checked against the mapping size just above.
                    return new Span<byte>((byte*)run + offset, (int)bytes);
                case KvmExitReason.Mmio:
                    // SAFETY: mmio.data is an 8-byte array inside the mapped kvm_run; len is at most 8.
                    return new Span<byte>(run->Exit.Mmio.Data, (int)Math.Min(run->Exit.Mmio.Len, 8u));
                default:
                    return [];
            }
        }
    }

    /// <summary>Enters the guest until the next exit. EINTR (a kick signal) comes back as <see cref="VcpuExitKind.Intr"/>.</summary>
    public VcpuExit Run()
    {
        int result = Libc.Ioctl(this, KvmIoctlCodes.KVM_RUN, 0);
        if (result < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.EINTR or Libc.EAGAIN)
            {
                return VcpuExit.Interrupted;
            }

            throw new KvmException($"KVM_RUN on vCPU {Id}", errno);
        }

        // SAFETY: _run maps the kvm_run page of this fd for the handle's lifetime; KVM_RUN has returned, so the kernel
        // is not writing it now.
        return Decode(_run);
    }

    /// <summary>
    /// Sets kvm_run.immediate_exit: the current or next KVM_RUN returns EINTR. Pair it with a signal to the vCPU
    /// thread so one already inside the guest leaves it (see Machine/VcpuKicker).
    /// </summary>
    public void RequestImmediateExit(bool value)
    {
        // SAFETY: a single byte store into the mapped kvm_run; the kernel reads it on entry to KVM_RUN.
        Volatile.Write(ref _run->ImmediateExit, value ? (byte)1 : (byte)0);
    }

    public KvmRegs GetRegs()
    {
        KvmRegs regs;
        Ioctl(KvmIoctlCodes.KVM_GET_REGS, &regs, $"KVM_GET_REGS on vCPU {Id}");
        return regs;
    }

    public void SetRegs(in KvmRegs regs)
    {
        // SAFETY: regs is pinned for the call and is the KvmRegs the request code's size was computed from; the kernel reads that many bytes.
        fixed (KvmRegs* p = &regs)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_REGS, p, $"KVM_SET_REGS on vCPU {Id}");
        }
    }

    public KvmSregs GetSregs()
    {
        KvmSregs sregs;
        Ioctl(KvmIoctlCodes.KVM_GET_SREGS, &sregs, $"KVM_GET_SREGS on vCPU {Id}");
        return sregs;
    }

    public void SetSregs(in KvmSregs sregs)
    {
        // SAFETY: sregs is pinned for the call and is the KvmSregs the request code's size was computed from; the kernel reads that many bytes.
        fixed (KvmSregs* p = &sregs)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_SREGS, p, $"KVM_SET_SREGS on vCPU {Id}");
        }
    }

    public KvmFpu GetFpu()
    {
        KvmFpu fpu;
        Ioctl(KvmIoctlCodes.KVM_GET_FPU, &fpu, $"KVM_GET_FPU on vCPU {Id}");
        return fpu;
    }

    public void SetFpu(in KvmFpu fpu)
    {
        // SAFETY: fpu is pinned for the call and is the KvmFpu the request code's size was computed from; the kernel reads that many bytes.
        fixed (KvmFpu* p = &fpu)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_FPU, p, $"KVM_SET_FPU on vCPU {Id}");
        }
    }

    public KvmLapicState GetLapic()
    {
        KvmLapicState lapic;
        Ioctl(KvmIoctlCodes.KVM_GET_LAPIC, &lapic, $"KVM_GET_LAPIC on vCPU {Id}");
        return lapic;
    }

    public void SetLapic(in KvmLapicState lapic)
    {
        // SAFETY: lapic is pinned for the call and is the KvmLapicState the request code's size was computed from; the kernel reads that many bytes.
        fixed (KvmLapicState* p = &lapic)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_LAPIC, p, $"KVM_SET_LAPIC on vCPU {Id}");
        }
    }

    public KvmVcpuEvents GetVcpuEvents()
    {
        KvmVcpuEvents events;
        Ioctl(KvmIoctlCodes.KVM_GET_VCPU_EVENTS, &events, $"KVM_GET_VCPU_EVENTS on vCPU {Id}");
        return events;
    }

    public void SetVcpuEvents(in KvmVcpuEvents events)
    {
        // SAFETY: events is pinned for the call and is the KvmVcpuEvents the request code's size was computed from; the kernel reads that many bytes.
        fixed (KvmVcpuEvents* p = &events)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_VCPU_EVENTS, p, $"KVM_SET_VCPU_EVENTS on vCPU {Id}");
        }
    }

    public KvmMpState GetMpState()
    {
        KvmMpState state;
        Ioctl(KvmIoctlCodes.KVM_GET_MP_STATE, &state, $"KVM_GET_MP_STATE on vCPU {Id}");
        return state;
    }

    public void SetMpState(KvmMpState state) =>
        Ioctl(KvmIoctlCodes.KVM_SET_MP_STATE, &state, $"KVM_SET_MP_STATE on vCPU {Id}");

    /// <summary>KVM_TRANSLATE: walks the guest's page tables for <paramref name="linearAddress"/>.</summary>
    public KvmTranslation Translate(ulong linearAddress)
    {
        var translation = new KvmTranslation { LinearAddress = linearAddress };
        Ioctl(KvmIoctlCodes.KVM_TRANSLATE, &translation, $"KVM_TRANSLATE(0x{linearAddress:x}) on vCPU {Id}");
        return translation;
    }

    // Snapshot state (KVM_GET_*/KVM_SET_* of XSAVE, XCRs, debug registers, MSRs, TSC frequency).

    public KvmXsave GetXsave()
    {
        KvmXsave xsave;
        Ioctl(KvmIoctlCodes.KVM_GET_XSAVE, &xsave, $"KVM_GET_XSAVE on vCPU {Id}");
        return xsave;
    }

    public void SetXsave(in KvmXsave xsave)
    {
        fixed (KvmXsave* p = &xsave)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_XSAVE, p, $"KVM_SET_XSAVE on vCPU {Id}");
        }
    }

    public KvmXcrs GetXcrs()
    {
        KvmXcrs xcrs;
        Ioctl(KvmIoctlCodes.KVM_GET_XCRS, &xcrs, $"KVM_GET_XCRS on vCPU {Id}");
        return xcrs;
    }

    public void SetXcrs(in KvmXcrs xcrs)
    {
        fixed (KvmXcrs* p = &xcrs)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_XCRS, p, $"KVM_SET_XCRS on vCPU {Id}");
        }
    }

    public KvmDebugRegs GetDebugRegs()
    {
        KvmDebugRegs regs;
        Ioctl(KvmIoctlCodes.KVM_GET_DEBUGREGS, &regs, $"KVM_GET_DEBUGREGS on vCPU {Id}");
        return regs;
    }

    public void SetDebugRegs(in KvmDebugRegs regs)
    {
        fixed (KvmDebugRegs* p = &regs)
        {
            Ioctl(KvmIoctlCodes.KVM_SET_DEBUGREGS, p, $"KVM_SET_DEBUGREGS on vCPU {Id}");
        }
    }

    /// <summary>KVM_GET_TSC_KHZ: the guest TSC frequency in kHz.</summary>
    public uint GetTscKhz() => (uint)Ioctl(KvmIoctlCodes.KVM_GET_TSC_KHZ, 0, $"KVM_GET_TSC_KHZ on vCPU {Id}");

    /// <summary>KVM_SET_TSC_KHZ: scales the guest TSC to <paramref name="khz"/> (needs TSC scaling on the host).</summary>
    public void SetTscKhz(uint khz) => Ioctl(KvmIoctlCodes.KVM_SET_TSC_KHZ, khz, $"KVM_SET_TSC_KHZ({khz}) on vCPU {Id}");

    /// <summary>KVM_KVMCLOCK_CTRL: tells the guest it was paused, so its watchdogs do not count the pause (EINVAL without kvmclock).</summary>
    public void NotifyKvmclockPaused() => Ioctl(KvmIoctlCodes.KVM_KVMCLOCK_CTRL, 0, $"KVM_KVMCLOCK_CTRL on vCPU {Id}");

    /// <summary>KVM_GET_MSRS for <paramref name="indices"/>; returns the MSRs the kernel read, in order, stopping at the first it refused.</summary>
    public (uint Index, ulong Value)[] GetMsrs(IReadOnlyList<uint> indices)
    {
        int bytes = sizeof(KvmMsrs) + (indices.Count * sizeof(KvmMsrEntry));
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // SAFETY: buffer holds the header and exactly indices.Count entries, as nmsrs says.
            ((KvmMsrs*)buffer)->Nmsrs = (uint)indices.Count;
            var entries = new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrs), indices.Count);
            for (int i = 0; i < indices.Count; i++)
            {
                entries[i].Index = indices[i];
            }

            int read = Math.Min(Ioctl(KvmIoctlCodes.KVM_GET_MSRS, buffer, $"KVM_GET_MSRS on vCPU {Id}"), indices.Count);
            var result = new (uint, ulong)[read];
            for (int i = 0; i < read; i++)
            {
                result[i] = (entries[i].Index, entries[i].Data);
            }

            return result;
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>KVM_SET_CPUID2: what CPUID returns inside the guest.</summary>
    public void SetCpuid2(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        int bytes = sizeof(KvmCpuid2) + (entries.Length * sizeof(KvmCpuidEntry2));
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // SAFETY: buffer holds the header and exactly entries.Length entries, as nent says.
            ((KvmCpuid2*)buffer)->Nent = (uint)entries.Length;
            entries.CopyTo(new Span<KvmCpuidEntry2>(buffer + sizeof(KvmCpuid2), entries.Length));
            Ioctl(KvmIoctlCodes.KVM_SET_CPUID2, buffer, $"KVM_SET_CPUID2 ({entries.Length} entries) on vCPU {Id}");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>KVM_SET_MSRS; throws naming the first MSR the kernel refused.</summary>
    public void SetMsrs(IReadOnlyList<(uint Index, ulong Value)> msrs)
    {
        int bytes = sizeof(KvmMsrs) + (msrs.Count * sizeof(KvmMsrEntry));
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // SAFETY: buffer holds the header and exactly msrs.Count entries, as nmsrs says.
            ((KvmMsrs*)buffer)->Nmsrs = (uint)msrs.Count;
            var entries = new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrs), msrs.Count);
            for (int i = 0; i < msrs.Count; i++)
            {
                entries[i].Index = msrs[i].Index;
                entries[i].Data = msrs[i].Value;
            }

            int written = Ioctl(KvmIoctlCodes.KVM_SET_MSRS, buffer, $"KVM_SET_MSRS on vCPU {Id}");
            if (written != msrs.Count)
            {
                throw new KvmException($"KVM_SET_MSRS on vCPU {Id} set {written} of {msrs.Count} MSRs; MSR 0x{msrs[written].Index:x} was refused");
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    protected override bool ReleaseHandle()
    {
        if (_run is not null)
        {
            LibcMemory.Munmap((nint)_run, _runSize);
            _run = null;
        }

        return base.ReleaseHandle();
    }

    /// <summary>Decodes the exit fields of a kvm_run page (public for tests that build a kvm_run by hand).</summary>
    internal static VcpuExit Decode(KvmRun* run)
    {
        uint reason = run->ExitReason;
        switch (reason)
        {
            case KvmExitReason.Io:
                return new VcpuExit
                {
                    Kind = run->Exit.Io.Direction == KvmRunIo.DirectionOut ? VcpuExitKind.IoOut : VcpuExitKind.IoIn,
                    ExitReason = reason,
                    Address = run->Exit.Io.Port,
                    Size = run->Exit.Io.Size,
                    Count = run->Exit.Io.Count,
                };
            case KvmExitReason.Mmio:
                return new VcpuExit
                {
                    Kind = run->Exit.Mmio.IsWrite != 0 ? VcpuExitKind.MmioWrite : VcpuExitKind.MmioRead,
                    ExitReason = reason,
                    Address = run->Exit.Mmio.PhysAddr,
                    Size = (int)Math.Min(run->Exit.Mmio.Len, 8u),
                    Count = 1,
                };
            case KvmExitReason.Hlt:
                return new VcpuExit { Kind = VcpuExitKind.Hlt, ExitReason = reason };
            case KvmExitReason.Shutdown:
                return new VcpuExit { Kind = VcpuExitKind.Shutdown, ExitReason = reason };
            case KvmExitReason.Intr:
                return VcpuExit.Interrupted;
            case KvmExitReason.SystemEvent:
                return new VcpuExit
                {
                    Kind = VcpuExitKind.SystemEvent,
                    ExitReason = reason,
                    Code = run->Exit.SystemEvent.Type,
                    Data = CopyWords(run->Exit.SystemEvent.Data, run->Exit.SystemEvent.Ndata),
                };
            case KvmExitReason.InternalError:
                return new VcpuExit
                {
                    Kind = VcpuExitKind.InternalError,
                    ExitReason = reason,
                    Code = run->Exit.Internal.Suberror,
                    Data = CopyWords(run->Exit.Internal.Data, run->Exit.Internal.Ndata),
                };
            case KvmExitReason.FailEntry:
                return new VcpuExit
                {
                    Kind = VcpuExitKind.FailEntry,
                    ExitReason = reason,
                    Code = run->Exit.FailEntry.Cpu,
                    HardwareReason = run->Exit.FailEntry.HardwareEntryFailureReason,
                };
            default:
                return new VcpuExit { Kind = VcpuExitKind.Unknown, ExitReason = reason, HardwareReason = run->Exit.HardwareExitReason };
        }
    }

    private static ulong[] CopyWords(ulong* words, uint count) =>
        new ReadOnlySpan<ulong>(words, (int)Math.Min(count, (uint)KvmRunInternal.MaxData)).ToArray();
}
