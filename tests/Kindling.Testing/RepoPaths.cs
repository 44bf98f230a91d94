namespace Kindling.Testing;

/// <summary>Locations in the repository and the shared test cache, found from the test assembly's directory.</summary>
public static class RepoPaths
{
    /// <summary>The repository root (the directory holding Runner.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// A cache for downloaded/built test inputs (Debian kernel, built guests). KINDLING_TEST_CACHE overrides;
    /// default .cache/ under the repository (ignored by git).
    /// </summary>
    public static string Cache
    {
        get
        {
            string dir = Environment.GetEnvironmentVariable("KINDLING_TEST_CACHE") is { Length: > 0 } env
                ? env
                : Path.Combine(Root, ".cache");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Runner.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"Runner.sln not found above {AppContext.BaseDirectory}");
    }
}
