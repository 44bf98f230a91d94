namespace Kindling.Vmm.Jail;

/// <summary>
/// The shared libraries an ELF executable loads at start, found as the dynamic loader finds them: its program
/// interpreter, then each <c>DT_NEEDED</c> soname (and theirs, transitively) in the object's run path, then the
/// loader's default folders. A native kindling-vmm needs only glibc's own (libc, libm, the loader); these are the
/// files the jailer places in the chroot beside it, and nothing else of the host.
/// </summary>
public static class NativeLibraries
{
    /// <summary>Where the dynamic loader looks for a library when there is no /etc/ld.so.cache (as in the jail).</summary>
    public static readonly IReadOnlyList<string> DefaultDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    /// <summary>
    /// Every library <paramref name="executable"/> needs, each as a <see cref="JailResource"/> from the file its path
    /// finally names (a hard link to a symbolic link would dangle in the jail) to the path the loader opens.
    /// </summary>
    /// <exception cref="JailException">A needed library is on none of the loader's paths.</exception>
    public static IReadOnlyList<JailResource> For(ElfImage executable)
    {
        List<JailResource> result = [];
        HashSet<string> seen = new(StringComparer.Ordinal);
        if (executable.Interpreter is { } interpreter)
        {
            seen.Add(Path.GetFileName(interpreter));
            result.Add(new JailResource(FinalTarget(interpreter), interpreter));
        }

        Queue<ElfImage> pending = new([executable]);
        while (pending.TryDequeue(out ElfImage? image))
        {
            foreach (string soname in image.Needed)
            {
                if (!seen.Add(soname))
                {
                    continue;
                }

                string path = Find(soname, image.RunPath)
                    ?? throw new JailException($"{executable.Path} needs {soname}, which is in none of {string.Join(", ", image.RunPath.Concat(DefaultDirectories))}; install it (glibc's libraries come with libc6)");
                result.Add(new JailResource(FinalTarget(path), path));
                pending.Enqueue(ElfImage.Read(path));
            }
        }

        return result;
    }

    /// <summary>The first <paramref name="soname"/> in <paramref name="runPath"/>, then in the default folders.</summary>
    public static string? Find(string soname, IEnumerable<string> runPath) =>
        soname.Contains('/', StringComparison.Ordinal)
            ? (File.Exists(soname) ? soname : null)
            : runPath.Concat(DefaultDirectories).Select(d => Path.Combine(d, soname)).FirstOrDefault(File.Exists);

    /// <summary>The file a path ends at after every symbolic link.</summary>
    public static string FinalTarget(string path) => new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
}
