namespace Kindling.Runner.Launch;

/// <summary>
/// How the runner starts kindling-vmm. <c>Kindling:Launcher:VmmPath</c> names either its executable (a
/// self-contained publish with the runtime beside it, or a framework-dependent apphost), started directly, or its
/// <c>kindling-vmm.dll</c>, started as <c>dotnet kindling-vmm.dll</c>. The jailer inside finds the same layout
/// for the jailed process by itself.
/// </summary>
/// <param name="FileName">The program: the executable, or the dotnet host.</param>
/// <param name="Prefix">Arguments before kindling-vmm's own: the dll for the dotnet host, else none.</param>
public sealed record VmmProgram(string FileName, IReadOnlyList<string> Prefix)
{
    public static VmmProgram For(string vmmPath) =>
        vmmPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? new VmmProgram(DotnetHost(), [Path.GetFullPath(vmmPath)])
            : new VmmProgram(vmmPath, []);

    /// <summary>kindling-vmm's arguments with the prefix in front.</summary>
    public IReadOnlyList<string> Arguments(IEnumerable<string> vmmArguments) => [.. Prefix, .. vmmArguments];

    public override string ToString() => string.Join(' ', [FileName, .. Prefix]);

    /// <summary>The dotnet host running the runner when it runs under one, else $DOTNET_ROOT/dotnet, else dotnet from PATH.</summary>
    private static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == "dotnet")
        {
            return self;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        return Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, "dotnet"))
            ? Path.Combine(root, "dotnet")
            : "dotnet";
    }
}
