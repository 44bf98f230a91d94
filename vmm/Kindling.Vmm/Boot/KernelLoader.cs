namespace Kindling.Vmm.Boot;

/// <summary>Loads a Linux kernel into guest memory: an ELF64 vmlinux or a bzImage, told apart by their magic.</summary>
public static class KernelLoader
{
    /// <summary>
    /// Loads <paramref name="path"/>. Throws <see cref="BootException"/> naming the file when it is missing, empty,
    /// truncated, neither ELF nor bzImage, built for another machine, or too big for <paramref name="memory"/>.
    /// </summary>
    public static LoadedKernel Load(Memory.IGuestMemory memory, string path)
    {
        ArgumentNullException.ThrowIfNull(memory);
        using ImageFile file = ImageFile.Open(path, "kernel");
        if (LooksLikeElf(file))
        {
            return ElfKernelLoader.Load(memory, file);
        }

        if (BzImageLoader.LooksLikeBzImage(file))
        {
            return BzImageLoader.Load(memory, file);
        }

        throw file.Corrupt(
            "it is neither an ELF vmlinux (no \\x7fELF magic) nor a bzImage (no \"HdrS\" setup header at 0x202); " +
            "point kernel_image_path at a vmlinux or bzImage");
    }

    private static bool LooksLikeElf(ImageFile file)
    {
        if (file.Length < Elf64.Magic.Length)
        {
            return false;
        }

        Span<byte> magic = stackalloc byte[Elf64.Magic.Length];
        file.ReadExactly(0, magic, "ELF magic");
        return magic.SequenceEqual(Elf64.Magic);
    }
}
