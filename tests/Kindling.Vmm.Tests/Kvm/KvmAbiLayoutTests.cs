using System.Reflection;
using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Tests.Kvm;

/// <summary>Every ABI struct's size and field offsets, and every ioctl number, against gcc + &lt;linux/kvm.h&gt;.</summary>
public sealed class KvmAbiLayoutTests
{
    public static TheoryData<string, Type> Sizes => new()
    {
        { "kvm_regs", typeof(KvmRegs) },
        { "kvm_segment", typeof(KvmSegment) },
        { "kvm_dtable", typeof(KvmDtable) },
        { "kvm_sregs", typeof(KvmSregs) },
        { "kvm_fpu", typeof(KvmFpu) },
        { "kvm_run", typeof(KvmRun) },
        { "kvm_userspace_memory_region", typeof(KvmUserspaceMemoryRegion) },
        { "kvm_cpuid2", typeof(KvmCpuid2) },
        { "kvm_cpuid_entry2", typeof(KvmCpuidEntry2) },
        { "kvm_msrs", typeof(KvmMsrs) },
        { "kvm_msr_entry", typeof(KvmMsrEntry) },
        { "kvm_pit_config", typeof(KvmPitConfig) },
        { "kvm_irqfd", typeof(KvmIrqfd) },
        { "kvm_ioeventfd", typeof(KvmIoeventfd) },
        { "kvm_irq_level", typeof(KvmIrqLevel) },
        { "kvm_lapic_state", typeof(KvmLapicState) },
        { "kvm_vcpu_events", typeof(KvmVcpuEvents) },
        { "kvm_translation", typeof(KvmTranslation) },
        { "kvm_mp_state", typeof(KvmMpState) },
        { "kvm_enable_cap", typeof(KvmEnableCap) },
        { "sigaction", typeof(LibcSignals.SigAction) },
    };

    /// <summary>C "struct.field" → C# type and dotted field path.</summary>
    public static TheoryData<string, Type, string> Offsets => new()
    {
        { "kvm_regs.rax", typeof(KvmRegs), "Rax" },
        { "kvm_regs.rbx", typeof(KvmRegs), "Rbx" },
        { "kvm_regs.rcx", typeof(KvmRegs), "Rcx" },
        { "kvm_regs.rdx", typeof(KvmRegs), "Rdx" },
        { "kvm_regs.rsi", typeof(KvmRegs), "Rsi" },
        { "kvm_regs.rdi", typeof(KvmRegs), "Rdi" },
        { "kvm_regs.rsp", typeof(KvmRegs), "Rsp" },
        { "kvm_regs.rbp", typeof(KvmRegs), "Rbp" },
        { "kvm_regs.r8", typeof(KvmRegs), "R8" },
        { "kvm_regs.r15", typeof(KvmRegs), "R15" },
        { "kvm_regs.rip", typeof(KvmRegs), "Rip" },
        { "kvm_regs.rflags", typeof(KvmRegs), "Rflags" },
        { "kvm_segment.base", typeof(KvmSegment), "Base" },
        { "kvm_segment.limit", typeof(KvmSegment), "Limit" },
        { "kvm_segment.selector", typeof(KvmSegment), "Selector" },
        { "kvm_segment.type", typeof(KvmSegment), "Type" },
        { "kvm_segment.present", typeof(KvmSegment), "Present" },
        { "kvm_segment.dpl", typeof(KvmSegment), "Dpl" },
        { "kvm_segment.db", typeof(KvmSegment), "Db" },
        { "kvm_segment.s", typeof(KvmSegment), "S" },
        { "kvm_segment.l", typeof(KvmSegment), "L" },
        { "kvm_segment.g", typeof(KvmSegment), "G" },
        { "kvm_segment.avl", typeof(KvmSegment), "Avl" },
        { "kvm_segment.unusable", typeof(KvmSegment), "Unusable" },
        { "kvm_dtable.base", typeof(KvmDtable), "Base" },
        { "kvm_dtable.limit", typeof(KvmDtable), "Limit" },
        { "kvm_sregs.cs", typeof(KvmSregs), "Cs" },
        { "kvm_sregs.ds", typeof(KvmSregs), "Ds" },
        { "kvm_sregs.es", typeof(KvmSregs), "Es" },
        { "kvm_sregs.fs", typeof(KvmSregs), "Fs" },
        { "kvm_sregs.gs", typeof(KvmSregs), "Gs" },
        { "kvm_sregs.ss", typeof(KvmSregs), "Ss" },
        { "kvm_sregs.tr", typeof(KvmSregs), "Tr" },
        { "kvm_sregs.ldt", typeof(KvmSregs), "Ldt" },
        { "kvm_sregs.gdt", typeof(KvmSregs), "Gdt" },
        { "kvm_sregs.idt", typeof(KvmSregs), "Idt" },
        { "kvm_sregs.cr0", typeof(KvmSregs), "Cr0" },
        { "kvm_sregs.cr2", typeof(KvmSregs), "Cr2" },
        { "kvm_sregs.cr3", typeof(KvmSregs), "Cr3" },
        { "kvm_sregs.cr4", typeof(KvmSregs), "Cr4" },
        { "kvm_sregs.cr8", typeof(KvmSregs), "Cr8" },
        { "kvm_sregs.efer", typeof(KvmSregs), "Efer" },
        { "kvm_sregs.apic_base", typeof(KvmSregs), "ApicBase" },
        { "kvm_sregs.interrupt_bitmap", typeof(KvmSregs), "InterruptBitmap" },
        { "kvm_fpu.fpr", typeof(KvmFpu), "Fpr" },
        { "kvm_fpu.fcw", typeof(KvmFpu), "Fcw" },
        { "kvm_fpu.fsw", typeof(KvmFpu), "Fsw" },
        { "kvm_fpu.ftwx", typeof(KvmFpu), "Ftwx" },
        { "kvm_fpu.last_opcode", typeof(KvmFpu), "LastOpcode" },
        { "kvm_fpu.last_ip", typeof(KvmFpu), "LastIp" },
        { "kvm_fpu.last_dp", typeof(KvmFpu), "LastDp" },
        { "kvm_fpu.xmm", typeof(KvmFpu), "Xmm" },
        { "kvm_fpu.mxcsr", typeof(KvmFpu), "Mxcsr" },
        { "kvm_run.request_interrupt_window", typeof(KvmRun), "RequestInterruptWindow" },
        { "kvm_run.immediate_exit", typeof(KvmRun), "ImmediateExit" },
        { "kvm_run.exit_reason", typeof(KvmRun), "ExitReason" },
        { "kvm_run.ready_for_interrupt_injection", typeof(KvmRun), "ReadyForInterruptInjection" },
        { "kvm_run.if_flag", typeof(KvmRun), "IfFlag" },
        { "kvm_run.flags", typeof(KvmRun), "Flags" },
        { "kvm_run.cr8", typeof(KvmRun), "Cr8" },
        { "kvm_run.apic_base", typeof(KvmRun), "ApicBase" },
        { "kvm_run.io", typeof(KvmRun), "Exit" },
        { "kvm_run.io.direction", typeof(KvmRun), "Exit.Io.Direction" },
        { "kvm_run.io.size", typeof(KvmRun), "Exit.Io.Size" },
        { "kvm_run.io.port", typeof(KvmRun), "Exit.Io.Port" },
        { "kvm_run.io.count", typeof(KvmRun), "Exit.Io.Count" },
        { "kvm_run.io.data_offset", typeof(KvmRun), "Exit.Io.DataOffset" },
        { "kvm_run.mmio.phys_addr", typeof(KvmRun), "Exit.Mmio.PhysAddr" },
        { "kvm_run.mmio.data", typeof(KvmRun), "Exit.Mmio.Data" },
        { "kvm_run.mmio.len", typeof(KvmRun), "Exit.Mmio.Len" },
        { "kvm_run.mmio.is_write", typeof(KvmRun), "Exit.Mmio.IsWrite" },
        { "kvm_run.internal.suberror", typeof(KvmRun), "Exit.Internal.Suberror" },
        { "kvm_run.internal.ndata", typeof(KvmRun), "Exit.Internal.Ndata" },
        { "kvm_run.internal.data", typeof(KvmRun), "Exit.Internal.Data" },
        { "kvm_run.fail_entry.hardware_entry_failure_reason", typeof(KvmRun), "Exit.FailEntry.HardwareEntryFailureReason" },
        { "kvm_run.fail_entry.cpu", typeof(KvmRun), "Exit.FailEntry.Cpu" },
        { "kvm_run.system_event.type", typeof(KvmRun), "Exit.SystemEvent.Type" },
        { "kvm_run.system_event.ndata", typeof(KvmRun), "Exit.SystemEvent.Ndata" },
        { "kvm_run.system_event.data", typeof(KvmRun), "Exit.SystemEvent.Data" },
        { "kvm_run.hw.hardware_exit_reason", typeof(KvmRun), "Exit.HardwareExitReason" },
        { "kvm_run.kvm_valid_regs", typeof(KvmRun), "KvmValidRegs" },
        { "kvm_run.kvm_dirty_regs", typeof(KvmRun), "KvmDirtyRegs" },
        { "kvm_run.s", typeof(KvmRun), "_syncRegs" },
        { "kvm_userspace_memory_region.slot", typeof(KvmUserspaceMemoryRegion), "Slot" },
        { "kvm_userspace_memory_region.flags", typeof(KvmUserspaceMemoryRegion), "Flags" },
        { "kvm_userspace_memory_region.guest_phys_addr", typeof(KvmUserspaceMemoryRegion), "GuestPhysAddr" },
        { "kvm_userspace_memory_region.memory_size", typeof(KvmUserspaceMemoryRegion), "MemorySize" },
        { "kvm_userspace_memory_region.userspace_addr", typeof(KvmUserspaceMemoryRegion), "UserspaceAddr" },
        { "kvm_cpuid2.nent", typeof(KvmCpuid2), "Nent" },
        { "kvm_cpuid_entry2.function", typeof(KvmCpuidEntry2), "Function" },
        { "kvm_cpuid_entry2.index", typeof(KvmCpuidEntry2), "Index" },
        { "kvm_cpuid_entry2.flags", typeof(KvmCpuidEntry2), "Flags" },
        { "kvm_cpuid_entry2.eax", typeof(KvmCpuidEntry2), "Eax" },
        { "kvm_cpuid_entry2.ebx", typeof(KvmCpuidEntry2), "Ebx" },
        { "kvm_cpuid_entry2.ecx", typeof(KvmCpuidEntry2), "Ecx" },
        { "kvm_cpuid_entry2.edx", typeof(KvmCpuidEntry2), "Edx" },
        { "kvm_msrs.nmsrs", typeof(KvmMsrs), "Nmsrs" },
        { "kvm_msr_entry.index", typeof(KvmMsrEntry), "Index" },
        { "kvm_msr_entry.data", typeof(KvmMsrEntry), "Data" },
        { "kvm_pit_config.flags", typeof(KvmPitConfig), "Flags" },
        { "kvm_irqfd.fd", typeof(KvmIrqfd), "Fd" },
        { "kvm_irqfd.gsi", typeof(KvmIrqfd), "Gsi" },
        { "kvm_irqfd.flags", typeof(KvmIrqfd), "Flags" },
        { "kvm_irqfd.resamplefd", typeof(KvmIrqfd), "ResampleFd" },
        { "kvm_ioeventfd.datamatch", typeof(KvmIoeventfd), "Datamatch" },
        { "kvm_ioeventfd.addr", typeof(KvmIoeventfd), "Addr" },
        { "kvm_ioeventfd.len", typeof(KvmIoeventfd), "Len" },
        { "kvm_ioeventfd.fd", typeof(KvmIoeventfd), "Fd" },
        { "kvm_ioeventfd.flags", typeof(KvmIoeventfd), "Flags" },
        { "kvm_irq_level.irq", typeof(KvmIrqLevel), "Irq" },
        { "kvm_irq_level.status", typeof(KvmIrqLevel), "Status" },
        { "kvm_irq_level.level", typeof(KvmIrqLevel), "Level" },
        { "kvm_lapic_state.regs", typeof(KvmLapicState), "Regs" },
        { "kvm_vcpu_events.exception.injected", typeof(KvmVcpuEvents), "ExceptionInjected" },
        { "kvm_vcpu_events.exception.nr", typeof(KvmVcpuEvents), "ExceptionNr" },
        { "kvm_vcpu_events.exception.has_error_code", typeof(KvmVcpuEvents), "ExceptionHasErrorCode" },
        { "kvm_vcpu_events.exception.pending", typeof(KvmVcpuEvents), "ExceptionPending" },
        { "kvm_vcpu_events.exception.error_code", typeof(KvmVcpuEvents), "ExceptionErrorCode" },
        { "kvm_vcpu_events.interrupt.injected", typeof(KvmVcpuEvents), "InterruptInjected" },
        { "kvm_vcpu_events.interrupt.nr", typeof(KvmVcpuEvents), "InterruptNr" },
        { "kvm_vcpu_events.interrupt.soft", typeof(KvmVcpuEvents), "InterruptSoft" },
        { "kvm_vcpu_events.interrupt.shadow", typeof(KvmVcpuEvents), "InterruptShadow" },
        { "kvm_vcpu_events.nmi.injected", typeof(KvmVcpuEvents), "NmiInjected" },
        { "kvm_vcpu_events.nmi.pending", typeof(KvmVcpuEvents), "NmiPending" },
        { "kvm_vcpu_events.nmi.masked", typeof(KvmVcpuEvents), "NmiMasked" },
        { "kvm_vcpu_events.sipi_vector", typeof(KvmVcpuEvents), "SipiVector" },
        { "kvm_vcpu_events.flags", typeof(KvmVcpuEvents), "Flags" },
        { "kvm_vcpu_events.smi.smm", typeof(KvmVcpuEvents), "Smi" },
        { "kvm_vcpu_events.smi.pending", typeof(KvmVcpuEvents), "SmiPending" },
        { "kvm_vcpu_events.smi.smm_inside_nmi", typeof(KvmVcpuEvents), "SmiInsideNmi" },
        { "kvm_vcpu_events.smi.latched_init", typeof(KvmVcpuEvents), "LatchedInit" },
        { "kvm_vcpu_events.triple_fault.pending", typeof(KvmVcpuEvents), "TripleFaultPending" },
        { "kvm_vcpu_events.exception_has_payload", typeof(KvmVcpuEvents), "ExceptionHasPayload" },
        { "kvm_vcpu_events.exception_payload", typeof(KvmVcpuEvents), "ExceptionPayload" },
        { "kvm_translation.linear_address", typeof(KvmTranslation), "LinearAddress" },
        { "kvm_translation.physical_address", typeof(KvmTranslation), "PhysicalAddress" },
        { "kvm_translation.valid", typeof(KvmTranslation), "Valid" },
        { "kvm_translation.writeable", typeof(KvmTranslation), "Writeable" },
        { "kvm_translation.usermode", typeof(KvmTranslation), "Usermode" },
        { "kvm_mp_state.mp_state", typeof(KvmMpState), "MpState" },
        { "kvm_enable_cap.cap", typeof(KvmEnableCap), "Cap" },
        { "kvm_enable_cap.flags", typeof(KvmEnableCap), "Flags" },
        { "kvm_enable_cap.args", typeof(KvmEnableCap), "Args" },
        { "sigaction.sa_handler", typeof(LibcSignals.SigAction), "Handler" },
        { "sigaction.sa_mask", typeof(LibcSignals.SigAction), "Mask" },
        { "sigaction.sa_flags", typeof(LibcSignals.SigAction), "Flags" },
        { "sigaction.sa_restorer", typeof(LibcSignals.SigAction), "Restorer" },
    };

    public static TheoryData<string, string> IoctlCodes => new string[]
    {
        "KVM_GET_API_VERSION", "KVM_CREATE_VM", "KVM_CHECK_EXTENSION", "KVM_GET_VCPU_MMAP_SIZE", "KVM_GET_SUPPORTED_CPUID",
        "KVM_CREATE_VCPU", "KVM_SET_USER_MEMORY_REGION", "KVM_SET_TSS_ADDR", "KVM_SET_IDENTITY_MAP_ADDR", "KVM_CREATE_IRQCHIP",
        "KVM_IRQ_LINE", "KVM_IRQFD", "KVM_CREATE_PIT2", "KVM_IOEVENTFD", "KVM_ENABLE_CAP", "KVM_RUN", "KVM_GET_REGS", "KVM_SET_REGS",
        "KVM_GET_SREGS", "KVM_SET_SREGS", "KVM_TRANSLATE", "KVM_SET_MSRS", "KVM_GET_FPU", "KVM_SET_FPU", "KVM_GET_LAPIC",
        "KVM_SET_LAPIC", "KVM_SET_CPUID2", "KVM_GET_MP_STATE", "KVM_SET_MP_STATE", "KVM_GET_VCPU_EVENTS", "KVM_SET_VCPU_EVENTS",
    }.Aggregate(new TheoryData<string, string>(), (data, name) =>
    {
        data.Add(name, name);
        return data;
    });

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SizeOf_Struct_MatchesKernelHeader(string cName, Type type)
    {
        Assert.Equal(KernelHeaderFacts.Get(cName + ".sizeof"), (ulong)Marshal.SizeOf(type));
    }

    [Theory]
    [MemberData(nameof(Offsets))]
    public void OffsetOf_Field_MatchesKernelHeader(string cField, Type type, string path)
    {
        Assert.Equal(KernelHeaderFacts.Get(cField), (ulong)OffsetOfPath(type, path));
    }

    [Theory]
    [MemberData(nameof(IoctlCodes))]
    public void IoctlCode_ComputedFromSizeof_MatchesKernelMacro(string cName, string field)
    {
        FieldInfo info = typeof(KvmIoctlCodes).GetField(field, BindingFlags.Static | BindingFlags.NonPublic)
            ?? throw new MissingFieldException(nameof(KvmIoctlCodes), field);
        Assert.Equal(KernelHeaderFacts.Get(cName), (ulong)(nuint)info.GetValue(null)!);
    }

    [Theory]
    [InlineData("KVM_CAP_IRQCHIP", KvmCapability.Irqchip)]
    [InlineData("KVM_CAP_HLT", KvmCapability.Hlt)]
    [InlineData("KVM_CAP_USER_MEMORY", KvmCapability.UserMemory)]
    [InlineData("KVM_CAP_SET_TSS_ADDR", KvmCapability.SetTssAddr)]
    [InlineData("KVM_CAP_EXT_CPUID", KvmCapability.ExtCpuid)]
    [InlineData("KVM_CAP_IRQFD", KvmCapability.Irqfd)]
    [InlineData("KVM_CAP_PIT2", KvmCapability.Pit2)]
    [InlineData("KVM_CAP_IOEVENTFD", KvmCapability.Ioeventfd)]
    [InlineData("KVM_CAP_SET_IDENTITY_MAP_ADDR", KvmCapability.SetIdentityMapAddr)]
    [InlineData("KVM_CAP_IMMEDIATE_EXIT", KvmCapability.ImmediateExit)]
    [InlineData("KVM_CAP_EXIT_ON_EMULATION_FAILURE", KvmCapability.ExitOnEmulationFailure)]
    public void Capability_Number_MatchesKernelHeader(string cName, KvmCapability capability)
    {
        Assert.Equal(KernelHeaderFacts.Get(cName), (ulong)capability);
    }

    [Fact]
    public void Constants_NamedLikeTheKernel_HaveTheKernelsValues()
    {
        var expected = new (string Name, ulong Value)[]
        {
            ("KVM_API_VERSION", KvmSystem.ExpectedApiVersion),
            ("KVM_EXIT_IO", KvmExitReason.Io),
            ("KVM_EXIT_HLT", KvmExitReason.Hlt),
            ("KVM_EXIT_MMIO", KvmExitReason.Mmio),
            ("KVM_EXIT_SHUTDOWN", KvmExitReason.Shutdown),
            ("KVM_EXIT_FAIL_ENTRY", KvmExitReason.FailEntry),
            ("KVM_EXIT_INTR", KvmExitReason.Intr),
            ("KVM_EXIT_INTERNAL_ERROR", KvmExitReason.InternalError),
            ("KVM_EXIT_SYSTEM_EVENT", KvmExitReason.SystemEvent),
            ("KVM_INTERNAL_ERROR_EMULATION", KvmExitReason.InternalErrorEmulation),
            ("KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES", EmulationFailure.FlagInstructionBytes),
            ("KVM_SYSTEM_EVENT_SHUTDOWN", KvmExitReason.SystemEventShutdown),
            ("KVM_SYSTEM_EVENT_RESET", KvmExitReason.SystemEventReset),
            ("KVM_SYSTEM_EVENT_CRASH", KvmExitReason.SystemEventCrash),
            ("KVM_PIT_SPEAKER_DUMMY", KvmPitConfig.SpeakerDummy),
            ("KVM_IRQFD_FLAG_DEASSIGN", KvmIrqfd.FlagDeassign),
            ("KVM_IOEVENTFD_FLAG_DATAMATCH", KvmIoeventfd.FlagDatamatch),
            ("KVM_IOEVENTFD_FLAG_PIO", KvmIoeventfd.FlagPio),
            ("KVM_IOEVENTFD_FLAG_DEASSIGN", KvmIoeventfd.FlagDeassign),
            ("KVM_CPUID_FLAG_SIGNIFCANT_INDEX", KvmCpuidEntry2.FlagSignificantIndex),
            ("O_RDWR", Libc.O_RDWR),
            ("O_CLOEXEC", Libc.O_CLOEXEC),
            ("MAP_PRIVATE", LibcMemory.MAP_PRIVATE),
            ("MAP_SHARED", LibcMemory.MAP_SHARED),
            ("MAP_ANONYMOUS", LibcMemory.MAP_ANONYMOUS),
            ("MAP_NORESERVE", LibcMemory.MAP_NORESERVE),
            ("PROT_READ", LibcMemory.PROT_READ),
            ("PROT_WRITE", LibcMemory.PROT_WRITE),
            ("SA_SIGINFO", LibcSignals.SA_SIGINFO),
            ("EINTR", Libc.EINTR),
            ("EAGAIN", Libc.EAGAIN),
            ("ENOENT", Libc.ENOENT),
            ("EACCES", Libc.EACCES),
        };
        foreach ((string name, ulong value) in expected)
        {
            Assert.True(KernelHeaderFacts.Get(name) == value, $"{name}: header says {KernelHeaderFacts.Get(name)}, C# says {value}");
        }
    }

    private static int OffsetOfPath(Type type, string path)
    {
        int offset = 0;
        foreach (string name in path.Split('.'))
        {
            FieldInfo field = type.GetField(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                ?? throw new MissingFieldException(type.Name, name);
            offset += (int)Marshal.OffsetOf(type, name);
            type = field.FieldType;
        }

        return offset;
    }
}
