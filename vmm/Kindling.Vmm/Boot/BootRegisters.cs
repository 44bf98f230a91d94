using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// The general-purpose registers of the boot vCPU at the 64-bit entry (boot.rst, "64-bit Boot Protocol"): RIP at the
/// kernel entry, RSI pointing at boot_params, a stack below the zero page's neighbours, RFLAGS with only its
/// reserved bit 1 set (interrupts off).
/// </summary>
public sealed record BootRegisters(ulong Rip, ulong Rsp, ulong Rbp, ulong Rsi, ulong Rflags)
{
    /// <summary>RFLAGS bit 1 is reserved and reads as 1.</summary>
    public const ulong RflagsReserved = 0x2;

    public static BootRegisters ForBootCpu(LoadedKernel kernel, GuestAddress bootParams)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return new BootRegisters(
            Rip: kernel.EntryPoint.Value,
            Rsp: BootLayout.BootStackPointer,
            Rbp: BootLayout.BootStackPointer,
            Rsi: bootParams.Value,
            Rflags: RflagsReserved);
    }
}
