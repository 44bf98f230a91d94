namespace Kindling.Vmm.Boot;

/// <summary>One entry of the e820 map handed to the kernel in boot_params.</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, E820Type Type)
{
    /// <summary>First address past the range.</summary>
    public ulong End => Address + Size;

    public override string ToString() => $"[0x{Address:x}-0x{End - 1:x}] {Type}";
}
