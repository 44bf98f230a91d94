namespace Kindling.Images.Kernel;

/// <summary>One kernel module to put in the initramfs: its name and its path under lib/modules/VERSION.</summary>
public sealed record KernelModule(string Name, string RelativePath);

/// <summary>
/// A kernel's modules.dep (as written by depmod) and modules.builtin, answering "which .ko files, in which load
/// order, does this list of modules need?".
/// </summary>
public sealed class ModuleDependencies
{
    private readonly Dictionary<string, (string Path, string[] Deps)> _modules;
    private readonly HashSet<string> _builtin;

    private ModuleDependencies(Dictionary<string, (string, string[])> modules, HashSet<string> builtin)
    {
        _modules = modules;
        _builtin = builtin;
    }

    /// <summary>The module name depmod/modprobe use for a path: basename without .ko[.xz|.zst|.gz], '-' as '_'.</summary>
    public static string NameOf(string path)
    {
        string name = Path.GetFileName(path);
        int ko = name.IndexOf(".ko", StringComparison.Ordinal);
        if (ko >= 0)
        {
            name = name[..ko];
        }

        return name.Replace('-', '_');
    }

    /// <summary>Parses the text of modules.dep and modules.builtin.</summary>
    public static ModuleDependencies Parse(string modulesDep, string modulesBuiltin)
    {
        Dictionary<string, (string, string[])> modules = new(StringComparer.Ordinal);
        foreach (string raw in modulesDep.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new InvalidDataException($"modules.dep line without ':' — \"{line}\"");
            }

            string path = line[..colon];
            string[] deps = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            modules[NameOf(path)] = (path, deps);
        }

        HashSet<string> builtin = new(
            modulesBuiltin.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(NameOf),
            StringComparer.Ordinal);
        return new ModuleDependencies(modules, builtin);
    }

    public bool IsBuiltin(string name) => _builtin.Contains(name.Replace('-', '_'));

    /// <summary>
    /// The modules to load for <paramref name="wanted"/>, dependencies first (a topological order; ties keep the
    /// order of <paramref name="wanted"/>). Built-in modules are left out; an unknown module is an error.
    /// </summary>
    public IReadOnlyList<KernelModule> LoadOrder(IEnumerable<string> wanted)
    {
        List<KernelModule> order = [];
        HashSet<string> done = new(StringComparer.Ordinal);
        HashSet<string> visiting = new(StringComparer.Ordinal);
        foreach (string w in wanted)
        {
            Visit(w.Replace('-', '_'), order, done, visiting, requiredBy: null);
        }

        return order;
    }

    private void Visit(string name, List<KernelModule> order, HashSet<string> done, HashSet<string> visiting, string? requiredBy)
    {
        if (done.Contains(name) || _builtin.Contains(name))
        {
            return;
        }

        if (!_modules.TryGetValue(name, out var entry))
        {
            string who = requiredBy is null ? "images/guest/modules.list" : $"module {requiredBy}";
            throw new ImageBuildException(
                $"kernel module '{name}' (wanted by {who}) is neither in modules.dep nor built in; fix the module list");
        }

        if (!visiting.Add(name))
        {
            throw new ImageBuildException($"modules.dep has a dependency cycle through '{name}'");
        }

        foreach (string dep in entry.Deps)
        {
            Visit(NameOf(dep), order, done, visiting, name);
        }

        visiting.Remove(name);
        done.Add(name);
        order.Add(new KernelModule(name, entry.Path));
    }
}
