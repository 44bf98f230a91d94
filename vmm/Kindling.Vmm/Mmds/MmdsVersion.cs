namespace Kindling.Vmm.Mmds;

/// <summary>V1: reads need no token. V2: reads need a session token from PUT /latest/api/token (Kindling's default).</summary>
public enum MmdsVersion
{
    V1,
    V2,
}
