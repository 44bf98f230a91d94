namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>
/// A syscall allowed only when argument <see cref="ArgumentIndex"/> (its low 32 bits) is one of
/// <see cref="AllowedValues"/>; any other value gets <see cref="Otherwise"/> (a SECCOMP_RET_* action).
/// </summary>
public sealed record SeccompArgumentRule(int Syscall, int ArgumentIndex, uint[] AllowedValues, uint Otherwise);
