using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Machine;

/// <summary>One-line descriptions of fatal vCPU exits, with RIP and (for emulation failures) the instruction bytes.</summary>
public static class VcpuExitDiagnostics
{
    /// <summary>Describes <paramref name="exit"/>; reads RIP and, when the exit lacks them, the instruction bytes from guest memory.</summary>
    public static string Describe(VcpuFd vcpu, VcpuExit exit, IGuestMemory memory)
    {
        ulong? rip = null;
        try
        {
            rip = vcpu.GetRegs().Rip;
        }
        catch (KvmException)
        {
            // The description goes on without RIP.
        }

        byte[]? bytes = EmulationFailure.InstructionBytes(exit);
        if (bytes is null && exit.Kind == VcpuExitKind.InternalError && rip is { } r)
        {
            bytes = ReadInstructionBytes(vcpu, r, memory);
        }

        return Describe(vcpu.Id, exit, rip, bytes);
    }

    /// <summary>The pure formatting part of <see cref="Describe(VcpuFd, VcpuExit, IGuestMemory)"/>.</summary>
    public static string Describe(int vcpuId, VcpuExit exit, ulong? rip, byte[]? instructionBytes)
    {
        string at = rip is { } r ? $" at RIP 0x{r:x}" : "";
        return exit.Kind switch
        {
            VcpuExitKind.InternalError =>
                $"vCPU {vcpuId}: KVM internal error, suberror {exit.Code} ({SuberrorName(exit.Code)}){at}"
                + (instructionBytes is { Length: > 0 } b ? $", instruction bytes {Convert.ToHexString(b).ToLowerInvariant()}" : ", instruction bytes unavailable")
                + (exit.Code == KvmExitReason.InternalErrorEmulation ? ": the host KVM cannot emulate this guest instruction" : ""),
            VcpuExitKind.Shutdown => $"vCPU {vcpuId}: guest triple fault (KVM_EXIT_SHUTDOWN){at}",
            VcpuExitKind.SystemEvent => $"vCPU {vcpuId}: guest system event {SystemEventName(exit.Code)} (KVM_EXIT_SYSTEM_EVENT){at}",
            VcpuExitKind.FailEntry => $"vCPU {vcpuId}: KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY, hardware reason 0x{exit.HardwareReason:x}){at}",
            _ => $"vCPU {vcpuId}: unexpected exit {exit}{at}",
        };
    }

    public static string SuberrorName(uint suberror) => suberror switch
    {
        KvmExitReason.InternalErrorEmulation => "emulation failure",
        KvmExitReason.InternalErrorSimulEx => "exception during exception delivery",
        KvmExitReason.InternalErrorDeliveryEv => "event delivery failed",
        KvmExitReason.InternalErrorUnexpectedExitReason => "unexpected exit reason",
        _ => "unknown",
    };

    public static string SystemEventName(uint type) => type switch
    {
        KvmExitReason.SystemEventShutdown => "shutdown",
        KvmExitReason.SystemEventReset => "reset",
        KvmExitReason.SystemEventCrash => "crash",
        _ => $"type {type}",
    };

    /// <summary>Up to 15 bytes at the vCPU's RIP (to the end of its page), or null when RIP is not mapped.</summary>
    public static byte[]? ReadInstructionBytesAtRip(VcpuFd vcpu, IGuestMemory memory)
    {
        try
        {
            return ReadInstructionBytes(vcpu, vcpu.GetRegs().Rip, memory);
        }
        catch (KvmException)
        {
            return null;
        }
    }

    private static byte[]? ReadInstructionBytes(VcpuFd vcpu, ulong rip, IGuestMemory memory)
    {
        try
        {
            KvmTranslation translation = vcpu.Translate(rip);
            if (translation.Valid == 0)
            {
                return null;
            }

            var address = new GuestAddress(translation.PhysicalAddress);
            // Stop at the page end: the next page may map elsewhere.
            int length = (int)Math.Min((ulong)EmulationFailure.MaxInstructionBytes, X86MemoryLayout.PageSize - (address.Value % X86MemoryLayout.PageSize));
            byte[] bytes = new byte[length];
            memory.Read(address, bytes);
            return bytes;
        }
        catch (Exception e) when (e is KvmException or GuestMemoryException)
        {
            return null;
        }
    }
}
