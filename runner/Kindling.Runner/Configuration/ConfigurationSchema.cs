using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace Kindling.Runner.Configuration;

/// <summary>
/// Checks configuration keys and values against the options classes before they are bound, so that a misspelt key
/// (<c>Host:Vcpu</c>) or a value of the wrong type (<c>Host:Vcpus = "three"</c>) is refused, naming it, instead of
/// being ignored or ending the process inside the binder. The schema is the options classes themselves: their public
/// settable properties, lists (indices 0, 1, …) and string-keyed dictionaries (any key).
/// </summary>
public static class ConfigurationSchema
{
    /// <summary>Root sections the runner reads; anything else at the top level is a misspelling.</summary>
    private static readonly string[] RootSections = [KindlingOptions.Section, "Logging"];

    /// <summary>Every problem with the keys and values of <paramref name="config"/>, one line each, naming its key.</summary>
    public static IReadOnlyList<string> Check(IConfiguration config, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        List<string> problems = [];
        // Only configuration files are checked at the top level: the host adds keys of its own there (contentRoot,
        // urls, …), and a value set on the configuration is set in every provider, so the file is read afresh.
        foreach (JsonConfigurationProvider file in (config as IConfigurationRoot)?.Providers.OfType<JsonConfigurationProvider>() ?? [])
        {
            if (file.Source.FileProvider?.GetFileInfo(file.Source.Path ?? "").PhysicalPath is not { } path || !File.Exists(path))
            {
                continue;
            }

            foreach (IConfigurationSection top in new ConfigurationBuilder().AddJsonFile(path, optional: true).Build().GetChildren())
            {
                if (!RootSections.Contains(top.Key, StringComparer.OrdinalIgnoreCase))
                {
                    string? near = Nearest(top.Key, RootSections);
                    problems.Add($"{top.Key}: unknown section in {path}{(near is null ? "" : $"; did you mean {near}?")} (the runner reads {string.Join(" and ", RootSections)})");
                }
            }
        }

        CheckSection(config.GetSection(KindlingOptions.Section), typeof(KindlingOptions), "", problems, environment);
        return problems;
    }

    /// <summary>The keys whose values cannot be converted to their property's type (the binder would throw on them).</summary>
    public static IReadOnlySet<string> UnconvertibleKeys(IConfiguration config)
    {
        List<string> problems = [];
        HashSet<string> keys = new(StringComparer.OrdinalIgnoreCase);
        CheckSection(config.GetSection(KindlingOptions.Section), typeof(KindlingOptions), "", problems, _ => null, keys);
        return keys;
    }

    /// <summary>
    /// Binds the Kindling section, leaving out values that cannot be converted (they are reported by
    /// <see cref="Check"/>), so that one bad value does not hide every other problem.
    /// </summary>
    public static void Bind(IConfiguration config, KindlingOptions options)
    {
        IConfigurationSection section = config.GetSection(KindlingOptions.Section);
        IReadOnlySet<string> bad = UnconvertibleKeys(config);
        if (bad.Count == 0)
        {
            section.Bind(options);
            return;
        }

        IConfiguration filtered = new ConfigurationBuilder()
            .AddInMemoryCollection(section.AsEnumerable().Where(kv => !bad.Contains(kv.Key)))
            .Build();
        filtered.GetSection(KindlingOptions.Section).Bind(options);
    }

    private static void CheckSection(IConfigurationSection section, Type type, string schemaPath, List<string> problems,
        Func<string, string?> environment, HashSet<string>? unconvertible = null)
    {
        if (Scalar(type) is { } scalar)
        {
            if (section.GetChildren().Any())
            {
                problems.Add($"{section.Path}: is an object or a list; it takes one value, {Describe(scalar)}");
            }
            else if (section.Value is { } value && !Converts(value, type))
            {
                problems.Add($"{section.Path}: '{value}' is not {Describe(scalar)}");
                unconvertible?.Add(section.Path);
            }

            return;
        }

        if (ElementOfList(type) is { } element)
        {
            foreach (IConfigurationSection item in section.GetChildren())
            {
                if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    problems.Add($"{item.Path}: {section.Key} is a list; write it as a JSON array [ ... ]");
                    continue;
                }

                CheckSection(item, element, schemaPath + ":N", problems, environment, unconvertible);
            }

            return;
        }

        if (ValueOfDictionary(type) is { } value2)
        {
            foreach (IConfigurationSection item in section.GetChildren())
            {
                CheckSection(item, value2, schemaPath + ":NAME", problems, environment, unconvertible);
            }

            return;
        }

        if (section.Value is { Length: > 0 } text && !section.GetChildren().Any())
        {
            problems.Add($"{section.Path}: '{text}' is a single value; {section.Key} is a section with keys {string.Join(", ", Properties(type).Select(p => p.Name))}");
            return;
        }

        foreach (IConfigurationSection child in section.GetChildren())
        {
            PropertyInfo? property = Properties(type).FirstOrDefault(p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                problems.Add(Unknown(child, type, environment));
                continue;
            }

            CheckSection(child, property.PropertyType, $"{schemaPath}:{property.Name}", problems, environment, unconvertible);
        }
    }

    private static string Unknown(IConfigurationSection key, Type type, Func<string, string?> environment)
    {
        string[] known = [.. Properties(type).Select(p => p.Name)];
        string parent = key.Path[..^(key.Key.Length + 1)];
        string? hint = Nearest(key.Key, known) is { } sibling
            ? $"; did you mean {parent}:{sibling}?"
            : Elsewhere(key.Key) is { } other ? $"; the nearest key is {KindlingOptions.Section}{other}" : "";
        string env = "KINDLING__" + key.Path[(KindlingOptions.Section.Length + 1)..].Replace(":", "__", StringComparison.Ordinal);
        string source = environment(env) is not null ? $" (set by the environment variable {env})" : "";
        return $"{key.Path}: unknown key{source}{hint} ({parent} takes {string.Join(", ", known)})";
    }

    /// <summary>A key of the same (or a nearby) name somewhere else in the schema, as <c>:Tenants:N:Quota:MaxVms</c>.</summary>
    private static string? Elsewhere(string name)
    {
        List<(string Path, string Name)> all = [];
        Collect(typeof(KindlingOptions), "", all, depth: 0);
        string? best = Nearest(name, all.Select(a => a.Name));
        return best is null ? null : all.First(a => a.Name == best).Path;
    }

    private static void Collect(Type type, string path, List<(string Path, string Name)> into, int depth)
    {
        if (depth > 6)
        {
            return;
        }

        foreach (PropertyInfo p in Properties(type))
        {
            string here = $"{path}:{p.Name}";
            into.Add((here, p.Name));
            Type t = p.PropertyType;
            if (ElementOfList(t) is { } e && Scalar(e) is null) Collect(e, here + ":N", into, depth + 1);
            else if (ValueOfDictionary(t) is { } v && Scalar(v) is null) Collect(v, here + ":NAME", into, depth + 1);
            else if (Scalar(t) is null && ElementOfList(t) is null && ValueOfDictionary(t) is null) Collect(t, here, into, depth + 1);
        }
    }

    /// <summary>The closest name within a small edit distance (case-insensitive), when there is exactly one.</summary>
    internal static string? Nearest(string name, IEnumerable<string> candidates)
    {
        int limit = Math.Max(1, name.Length / 3);
        var scored = candidates.Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(c => (Name: c, Distance: Distance(name.ToLowerInvariant(), c.ToLowerInvariant())))
            .Where(c => c.Distance <= limit)
            .OrderBy(c => c.Distance).ToList();
        return scored.Count > 0 && (scored.Count == 1 || scored[1].Distance > scored[0].Distance) ? scored[0].Name : null;
    }

    /// <summary>Optimal string alignment distance (Levenshtein with adjacent transpositions).</summary>
    internal static int Distance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    private static IEnumerable<PropertyInfo> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0 && (p.CanWrite || ElementOfList(p.PropertyType) is not null || ValueOfDictionary(p.PropertyType) is not null));

    private static Type? Scalar(Type type)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(DateTimeOffset) || t == typeof(Uri) ? t : null;
    }

    private static Type? ElementOfList(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0]
        : type.IsArray ? type.GetElementType() : null;

    private static Type? ValueOfDictionary(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1] : null;

    /// <summary>Whether the binder can convert <paramref name="value"/> (the same conversion it uses).</summary>
    private static bool Converts(string value, Type type)
    {
        try
        {
            new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create("v", (string?)value)]).Build().GetValue(type, "v");
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Describe(Type t) => t switch
    {
        _ when t == typeof(bool) => "true or false",
        _ when t == typeof(int) || t == typeof(long) => "a whole number",
        _ when t == typeof(uint) => "a whole number ≥ 0",
        _ when t == typeof(double) => "a number",
        _ when t == typeof(TimeSpan) => "a duration such as 00:00:10 (hh:mm:ss)",
        _ when t == typeof(string) => "a string",
        _ => $"a {t.Name}",
    };
}
