using System.Diagnostics;
using System.Globalization;
using Kindling.Testing;

namespace Kindling.Vmm.Tests.Kvm;

/// <summary>
/// Sizes, field offsets and constants as the C compiler sees them in &lt;linux/kvm.h&gt; and &lt;signal.h&gt;:
/// a small C program is compiled with gcc and run once per test run; its "name value" lines are parsed.
/// </summary>
internal static class KernelHeaderFacts
{
    private static readonly Lazy<IReadOnlyDictionary<string, ulong>> Values = new(Probe);

    // name -> C expression printed as an unsigned 64-bit value.
    internal static readonly (string Name, string Expression)[] Expressions = BuildExpressions();

    public static ulong Get(string name) =>
        Values.Value.TryGetValue(name, out ulong value) ? value : throw new KeyNotFoundException($"probe printed no value for {name}");

    private static (string, string)[] BuildExpressions()
    {
        var list = new List<(string, string)>();

        void Struct(string type, params string[] fields)
        {
            list.Add(($"{type}.sizeof", $"sizeof(struct {type})"));
            foreach (string f in fields)
            {
                list.Add(($"{type}.{f}", $"offsetof(struct {type}, {f})"));
            }
        }

        Struct("kvm_regs", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r15", "rip", "rflags");
        Struct("kvm_segment", "base", "limit", "selector", "type", "present", "dpl", "db", "s", "l", "g", "avl", "unusable");
        Struct("kvm_dtable", "base", "limit");
        Struct("kvm_sregs", "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt", "gdt", "idt", "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base", "interrupt_bitmap");
        Struct("kvm_fpu", "fpr", "fcw", "fsw", "ftwx", "last_opcode", "last_ip", "last_dp", "xmm", "mxcsr");
        Struct("kvm_run", "request_interrupt_window", "immediate_exit", "exit_reason", "ready_for_interrupt_injection", "if_flag", "flags", "cr8", "apic_base",
            "io", "io.direction", "io.size", "io.port", "io.count", "io.data_offset",
            "mmio.phys_addr", "mmio.data", "mmio.len", "mmio.is_write",
            "internal.suberror", "internal.ndata", "internal.data",
            "fail_entry.hardware_entry_failure_reason", "fail_entry.cpu",
            "system_event.type", "system_event.ndata", "system_event.data", "hw.hardware_exit_reason",
            "kvm_valid_regs", "kvm_dirty_regs", "s");
        Struct("kvm_userspace_memory_region", "slot", "flags", "guest_phys_addr", "memory_size", "userspace_addr");
        Struct("kvm_cpuid2", "nent", "entries");
        Struct("kvm_cpuid_entry2", "function", "index", "flags", "eax", "ebx", "ecx", "edx");
        Struct("kvm_msrs", "nmsrs", "entries");
        Struct("kvm_msr_entry", "index", "data");
        Struct("kvm_pit_config", "flags");
        Struct("kvm_irqfd", "fd", "gsi", "flags", "resamplefd");
        Struct("kvm_ioeventfd", "datamatch", "addr", "len", "fd", "flags");
        Struct("kvm_irq_level", "irq", "status", "level");
        Struct("kvm_lapic_state", "regs");
        Struct("kvm_vcpu_events", "exception.injected", "exception.nr", "exception.has_error_code", "exception.pending", "exception.error_code",
            "interrupt.injected", "interrupt.nr", "interrupt.soft", "interrupt.shadow", "nmi.injected", "nmi.pending", "nmi.masked",
            "sipi_vector", "flags", "smi.smm", "smi.pending", "smi.smm_inside_nmi", "smi.latched_init", "triple_fault.pending",
            "exception_has_payload", "exception_payload");
        Struct("kvm_translation", "linear_address", "physical_address", "valid", "writeable", "usermode");
        Struct("kvm_mp_state", "mp_state");
        Struct("kvm_enable_cap", "cap", "flags", "args");
        Struct("kvm_xsave", "region");
        Struct("kvm_xcr", "xcr", "value");
        Struct("kvm_xcrs", "nr_xcrs", "flags", "xcrs");
        Struct("kvm_debugregs", "db", "dr6", "dr7", "flags");
        Struct("kvm_irqchip", "chip_id", "chip");
        Struct("kvm_pit_channel_state", "count", "latched_count", "count_latched", "status_latched", "status", "read_state", "write_state",
            "write_latch", "rw_mode", "mode", "bcd", "gate", "count_load_time");
        Struct("kvm_pit_state2", "channels", "flags");
        Struct("kvm_clock_data", "clock", "flags", "realtime", "host_tsc");
        Struct("kvm_msr_list", "nmsrs", "indices");
        Struct("sigaction", "sa_handler", "sa_mask", "sa_flags", "sa_restorer");

        foreach (string ioctl in new[]
                 {
                     "KVM_GET_API_VERSION", "KVM_CREATE_VM", "KVM_CHECK_EXTENSION", "KVM_GET_VCPU_MMAP_SIZE", "KVM_GET_SUPPORTED_CPUID",
                     "KVM_CREATE_VCPU", "KVM_SET_USER_MEMORY_REGION", "KVM_SET_TSS_ADDR", "KVM_SET_IDENTITY_MAP_ADDR", "KVM_CREATE_IRQCHIP",
                     "KVM_IRQ_LINE", "KVM_IRQFD", "KVM_CREATE_PIT2", "KVM_IOEVENTFD", "KVM_ENABLE_CAP", "KVM_RUN", "KVM_GET_REGS", "KVM_SET_REGS",
                     "KVM_GET_SREGS", "KVM_SET_SREGS", "KVM_TRANSLATE", "KVM_SET_MSRS", "KVM_GET_FPU", "KVM_SET_FPU", "KVM_GET_LAPIC",
                     "KVM_SET_LAPIC", "KVM_SET_CPUID2", "KVM_GET_MP_STATE", "KVM_SET_MP_STATE", "KVM_GET_VCPU_EVENTS", "KVM_SET_VCPU_EVENTS",
                     "KVM_GET_MSR_INDEX_LIST", "KVM_GET_IRQCHIP", "KVM_SET_IRQCHIP", "KVM_SET_CLOCK", "KVM_GET_CLOCK", "KVM_GET_PIT2",
                     "KVM_SET_PIT2", "KVM_GET_MSRS", "KVM_GET_DEBUGREGS", "KVM_SET_DEBUGREGS", "KVM_SET_TSC_KHZ", "KVM_GET_TSC_KHZ",
                     "KVM_GET_XSAVE", "KVM_SET_XSAVE", "KVM_GET_XCRS", "KVM_SET_XCRS", "KVM_KVMCLOCK_CTRL", "KVM_IRQCHIP_PIC_MASTER",
                     "KVM_IRQCHIP_PIC_SLAVE", "KVM_IRQCHIP_IOAPIC", "KVM_CLOCK_TSC_STABLE", "KVM_MAX_XCRS",
                     "KVM_CAP_IRQCHIP", "KVM_CAP_HLT", "KVM_CAP_USER_MEMORY", "KVM_CAP_SET_TSS_ADDR", "KVM_CAP_EXT_CPUID", "KVM_CAP_IRQFD",
                     "KVM_CAP_PIT2", "KVM_CAP_IOEVENTFD", "KVM_CAP_SET_IDENTITY_MAP_ADDR", "KVM_CAP_IMMEDIATE_EXIT",
                     "KVM_CAP_EXIT_ON_EMULATION_FAILURE", "KVM_API_VERSION",
                     "KVM_EXIT_IO", "KVM_EXIT_HLT", "KVM_EXIT_MMIO", "KVM_EXIT_SHUTDOWN", "KVM_EXIT_FAIL_ENTRY", "KVM_EXIT_INTR",
                     "KVM_EXIT_INTERNAL_ERROR", "KVM_EXIT_SYSTEM_EVENT", "KVM_INTERNAL_ERROR_EMULATION",
                     "KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES", "KVM_SYSTEM_EVENT_SHUTDOWN", "KVM_SYSTEM_EVENT_RESET",
                     "KVM_SYSTEM_EVENT_CRASH", "KVM_PIT_SPEAKER_DUMMY", "KVM_IRQFD_FLAG_DEASSIGN", "KVM_IOEVENTFD_FLAG_DATAMATCH",
                     "KVM_IOEVENTFD_FLAG_PIO", "KVM_IOEVENTFD_FLAG_DEASSIGN", "KVM_CPUID_FLAG_SIGNIFCANT_INDEX",
                     "O_RDWR", "O_CLOEXEC", "MAP_PRIVATE", "MAP_SHARED", "MAP_ANONYMOUS", "MAP_NORESERVE", "PROT_READ", "PROT_WRITE",
                     "SA_SIGINFO", "EINTR", "EAGAIN", "ENOENT", "EACCES",
                 })
        {
            list.Add((ioctl, $"(unsigned long long)({ioctl})"));
        }

        return [.. list];
    }

    private static IReadOnlyDictionary<string, ulong> Probe()
    {
        string dir = Path.Combine(RepoPaths.Cache, "kvm-abi-probe");
        Directory.CreateDirectory(dir);
        string source = Path.Combine(dir, "probe.c");
        string binary = Path.Combine(dir, $"probe-{Environment.ProcessId}");
        var c = new System.Text.StringBuilder();
        c.AppendLine("#define _GNU_SOURCE");
        c.AppendLine("#include <stddef.h>\n#include <stdio.h>\n#include <signal.h>\n#include <fcntl.h>\n#include <errno.h>\n#include <sys/mman.h>\n#include <linux/kvm.h>");
        c.AppendLine("int main(void) {");
        foreach ((string name, string expression) in Expressions)
        {
            c.AppendLine($"  printf(\"%s %llu\\n\", \"{name}\", (unsigned long long)({expression}));");
        }

        c.AppendLine("  return 0;\n}");
        File.WriteAllText(source, c.ToString());
        Run("gcc", $"-O0 -o {binary} {source}");
        string output = Run(binary, "");
        File.Delete(binary);
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ');
            values[parts[0]] = ulong.Parse(parts[1], CultureInfo.InvariantCulture);
        }

        return values;
    }

    private static string Run(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {stderr}");
        }

        return stdout;
    }
}
