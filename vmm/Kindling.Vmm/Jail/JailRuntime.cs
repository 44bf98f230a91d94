using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kindling.Vmm.Jail;

/// <summary>
/// How the jailed kindling-vmm is started, for each layout a build can have:
/// <list type="bullet">
/// <item>native (<c>dotnet publish -r linux-x64 -p:PublishAot=true</c>): one executable, as Firecracker's. The jailer
/// hard-links (or, across file systems, copies) it into the chroot as <see cref="NativeJailPath"/> with the few shared
/// libraries the loader gives it (<see cref="NativeLibraries"/>) and starts that copy; no folder of the host is bound;</item>
/// <item>self-contained (<c>dotnet publish -r linux-x64 --self-contained</c>, ReadyToRun or not): the
/// <c>kindling-vmm</c> executable with the runtime beside it (<c>libcoreclr.so</c> in the same folder); the command
/// is the executable itself and only its folder is bound into the jail;</item>
/// <item>framework-dependent (<c>dotnet build</c>, or a publish without <c>--self-contained</c>):
/// <c>dotnet kindling-vmm.dll</c>; the dotnet folder and the app folder are bound. A framework-dependent
/// <c>kindling-vmm</c> executable (an apphost with no runtime beside it) is started the same way, through its dll.</item>
/// </list>
/// </summary>
/// <param name="Command">argv before the jail-init arguments: the executable, or dotnet and the dll.</param>
/// <param name="ReadOnlyDirectories">Host folders bound read-only at the same paths inside the jail.</param>
public sealed record JailRuntime(IReadOnlyList<string> Command, IReadOnlyList<string> ReadOnlyDirectories)
{
    /// <summary>Where a native kindling-vmm is placed inside the chroot, and started from.</summary>
    public const string NativeJailPath = "/kindling-vmm";

    /// <summary>Whether this is the native layout: <see cref="Command"/> is the host binary, placed by <see cref="Files"/>.</summary>
    public bool IsNative { get; init; }

    /// <summary>Files placed in the chroot for the runtime (native: the binary and its shared libraries).</summary>
    public IReadOnlyList<JailResource> Files { get; init; } = [];

    /// <summary>
    /// The runtime of a native kindling-vmm at <paramref name="executable"/>: nothing bound; the binary at
    /// <see cref="NativeJailPath"/> and its libraries at the paths the loader opens them from.
    /// </summary>
    public static JailRuntime Native(string executable)
    {
        ElfImage image = ElfImage.Read(executable);
        return new JailRuntime([executable], [])
        {
            IsNative = true,
            Files = [new JailResource(NativeLibraries.FinalTarget(executable), NativeJailPath), .. NativeLibraries.For(image)],
        };
    }

    /// <summary>The file that marks a self-contained layout: the runtime sits beside the app.</summary>
    public const string RuntimeMarker = "libcoreclr.so";

    public const string AppName = "kindling-vmm";

    /// <summary>
    /// The runtime for <paramref name="appPath"/> (the dll or the executable; default: this process's own
    /// kindling-vmm), started with <paramref name="dotnetPath"/> when it is framework-dependent (default: the
    /// dotnet host running this process, else the one on PATH).
    /// </summary>
    public static JailRuntime For(string? appPath, string? dotnetPath)
    {
        string app = Path.GetFullPath(appPath ?? DefaultApp());
        string dir = Path.GetDirectoryName(app)!;
        if (!app.EndsWith(".dll", StringComparison.Ordinal) && ElfImage.IsNativeAotFile(app))
        {
            return Native(app);
        }

        if (!app.EndsWith(".dll", StringComparison.Ordinal) && IsSelfContained(dir))
        {
            return File.Exists(app)
                ? new JailRuntime([app], [dir])
                : throw new JailException($"{app} does not exist; point the jailer at the kindling-vmm executable of the self-contained build in {dir}");
        }

        string dll = app.EndsWith(".dll", StringComparison.Ordinal) ? app : app + ".dll";
        if (!File.Exists(dll))
        {
            throw new JailException(
                $"{app}: neither a native kindling-vmm (NativeAOT), a self-contained one ({RuntimeMarker} beside it) nor a framework-dependent one ({dll} is missing); build or publish vmm/Kindling.Vmm.Cli there");
        }

        string dotnet = dotnetPath ?? HostDotnet()
            ?? throw new JailException($"{dll} is framework-dependent and no dotnet host was found (not running under one, not on PATH); install the .NET runtime or publish kindling-vmm --self-contained");
        return new JailRuntime([dotnet, dll], [Path.GetDirectoryName(dotnet)!, Path.GetDirectoryName(dll)!]);
    }

    /// <summary>Whether the build in <paramref name="directory"/> carries its own runtime.</summary>
    public static bool IsSelfContained(string directory) => File.Exists(Path.Combine(directory, RuntimeMarker));

    /// <summary>This process's kindling-vmm: its executable when native or self-contained, else its dll.</summary>
    private static string DefaultApp() =>
        IsNativeProcess && Environment.ProcessPath is { } self
            ? self
            : IsSelfContained(AppContext.BaseDirectory)
            ? Path.Combine(AppContext.BaseDirectory, AppName)
            : Path.Combine(AppContext.BaseDirectory, AppName + ".dll");

    /// <summary>Whether this process is a NativeAOT build (its code was compiled ahead of time, none is JIT-compiled).</summary>
    public static bool IsNativeProcess => !RuntimeFeature.IsDynamicCodeSupported;

    /// <summary>
    /// The dotnet host: the one whose shared runtime runs this process (DOTNET_ROOT/shared/Microsoft.NETCore.App/V/),
    /// else $DOTNET_ROOT/dotnet, else dotnet on PATH (links followed: its folder is the one with shared/ in it).
    /// </summary>
    internal static string? HostDotnet()
    {
        if (!IsSelfContained(AppContext.BaseDirectory))
        {
            string shared = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));
            if (File.Exists(shared))
            {
                return shared;
            }
        }

        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.GetFullPath(Path.Combine(root, "dotnet"));
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "dotnet");
            if (File.Exists(candidate))
            {
                return new FileInfo(candidate).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(candidate);
            }
        }

        return null;
    }
}
