namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>BOOTSTRAP (to be narrowed).</summary>
public static class SeccompAllowlist
{
    public static IReadOnlyCollection<int> Syscalls { get; } =
        [.. typeof(X64Syscall).GetFields().Select(f => (int)f.GetValue(null)!)
            .Where(n => n is not X64Syscall.ptrace and not X64Syscall.mount)];

    public static IReadOnlyCollection<uint> IoctlTypes { get; } = [0xAE, 'T'];

    public static IReadOnlyCollection<uint> IoctlRequests { get; } = [0x5401, 0x5413];
}
