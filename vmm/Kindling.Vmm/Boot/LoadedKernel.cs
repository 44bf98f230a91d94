using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// A kernel placed in guest memory. <paramref name="EntryPoint"/> is the guest-physical 64-bit entry (RIP with
/// paging identity-mapped). [<paramref name="LoadStart"/>, <paramref name="LoadEnd"/>) is the memory the kernel
/// occupies: its segments (and bss) for ELF; for a bzImage the protected-mode part at 1 MiB, extended to where the
/// kernel decompresses itself (max(kernel_alignment-rounded load address, pref_address) + init_size).
/// </summary>
public sealed record LoadedKernel(KernelFormat Format, GuestAddress EntryPoint, GuestAddress LoadStart, GuestAddress LoadEnd)
{
    /// <summary>The bzImage's own setup header, which <see cref="LinuxBoot.WriteBootParams"/> copies into boot_params. Null for ELF.</summary>
    public SetupHeader? Header { get; init; }

    /// <summary>The 32-bit PVH entry (ELF note XEN_ELFNOTE_PHYS32_ENTRY) when the ELF carries one; recorded, not used for the 64-bit boot.</summary>
    public GuestAddress? PvhEntryPoint { get; init; }

    /// <summary>The file it was loaded from, for messages.</summary>
    public string Path { get; init; } = "";
}
