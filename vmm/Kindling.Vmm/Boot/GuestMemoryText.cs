using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>Guest RAM described for error messages.</summary>
internal static class GuestMemoryText
{
    public static string Describe(IGuestMemory memory)
    {
        ulong total = 0;
        foreach (GuestRegion region in memory.Regions)
        {
            total += region.Size;
        }

        string ranges = string.Join(", ", memory.Regions.Select(r => $"[{r.Start}, 0x{r.End:x})"));
        return $"{total >> 20} MiB ({ranges})";
    }
}
