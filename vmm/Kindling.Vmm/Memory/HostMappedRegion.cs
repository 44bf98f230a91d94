namespace Kindling.Vmm.Memory;

/// <summary>One guest RAM region and the host memory behind it: what KVM_SET_USER_MEMORY_REGION needs.</summary>
public readonly record struct HostMappedRegion(GuestAddress GuestAddress, nint HostAddress, ulong Size);
