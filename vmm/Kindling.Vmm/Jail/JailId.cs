namespace Kindling.Vmm.Jail;

/// <summary>
/// A jail id: 1 to 64 characters of [A-Za-z0-9-] (Firecracker's jailer rule). The id names directories and
/// cgroups, so anything else (a slash, "..", a space) is refused before the file system is touched.
/// </summary>
public static class JailId
{
    public const int MaxLength = 64;

    /// <summary>Null when <paramref name="id"/> is valid; otherwise why not.</summary>
    public static string? Problem(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "the jail id is empty; give --id 1 to 64 characters of A-Z, a-z, 0-9 and '-'";
        }

        if (id.Length > MaxLength)
        {
            return $"the jail id is {id.Length} characters long; the limit is {MaxLength}";
        }

        foreach (char c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return $"the jail id '{id}' contains '{c}'; only A-Z, a-z, 0-9 and '-' are allowed";
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="JailException"/> unless <paramref name="id"/> is valid.</summary>
    public static string Validate(string? id) => Problem(id) is { } problem ? throw new JailException(problem) : id!;
}
