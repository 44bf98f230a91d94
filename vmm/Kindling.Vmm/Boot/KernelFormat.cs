namespace Kindling.Vmm.Boot;

/// <summary>How the kernel image on disk is packaged.</summary>
public enum KernelFormat
{
    /// <summary>An uncompressed ELF64 vmlinux: PT_LOAD segments go to their physical addresses.</summary>
    Elf,

    /// <summary>A bzImage (Linux boot protocol ≥ 2.06): the protected-mode part goes to 1 MiB.</summary>
    BzImage,
}
