using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>Which command starts the jailed VMM, for each layout a build of kindling-vmm can have (no root needed).</summary>
public sealed class JailRuntimeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-jail-runtime-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Touch(string name)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, []);
        return path;
    }

    [Fact]
    public void For_NativeExecutable_PlacesItInTheChrootAndBindsNothing()
    {
        // A NativeAOT kindling-vmm published into the runner's folder, beside the managed build's dll and runtime
        // files: the binary's own sections, not its neighbours, make it native.
        string exe = Path.Combine(_dir, "kindling-vmm");
        File.WriteAllBytes(exe, ElfBuilder.WithSections(".text", ElfImage.ManagedCodeSection));
        Touch("kindling-vmm.dll");

        JailRuntime runtime = JailRuntime.For(exe, dotnetPath: "/opt/dotnet/dotnet");

        Assert.True(runtime.IsNative);
        Assert.Equal([exe], runtime.Command);
        Assert.Empty(runtime.ReadOnlyDirectories);
        Assert.Equal([new JailResource(exe, JailRuntime.NativeJailPath)], runtime.Files); // static: no libraries
    }

    [Fact]
    public void For_SelfContainedExecutable_RunsItAloneAndBindsOnlyItsFolder()
    {
        string exe = Touch("kindling-vmm");
        Touch("kindling-vmm.dll");
        Touch(JailRuntime.RuntimeMarker);

        JailRuntime runtime = JailRuntime.For(exe, dotnetPath: "/opt/dotnet/dotnet");

        Assert.Equal([exe], runtime.Command);
        Assert.Equal([_dir], runtime.ReadOnlyDirectories);
    }

    [Fact]
    public void For_FrameworkDependentExecutable_RunsItsDllWithDotnet()
    {
        string exe = Touch("kindling-vmm");
        string dll = Touch("kindling-vmm.dll");

        JailRuntime runtime = JailRuntime.For(exe, dotnetPath: "/opt/dotnet/dotnet");

        Assert.Equal(["/opt/dotnet/dotnet", dll], runtime.Command);
        Assert.Equal(["/opt/dotnet", _dir], runtime.ReadOnlyDirectories);
    }

    [Fact]
    public void For_Dll_RunsItWithDotnetEvenBesideARuntime()
    {
        string dll = Touch("kindling-vmm.dll");
        Touch(JailRuntime.RuntimeMarker);

        Assert.Equal(["/opt/dotnet/dotnet", dll], JailRuntime.For(dll, dotnetPath: "/opt/dotnet/dotnet").Command);
    }

    [Fact]
    public void For_Default_IsThisBuildFrameworkDependentUnderTheRunningDotnet()
    {
        JailRuntime runtime = JailRuntime.For(appPath: null, dotnetPath: null);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "kindling-vmm.dll"), runtime.Command[1]);
        Assert.Equal("dotnet", Path.GetFileName(runtime.Command[0]));
        Assert.True(File.Exists(runtime.Command[0]), runtime.Command[0]);
        Assert.True(Directory.Exists(Path.Combine(runtime.ReadOnlyDirectories[0], "shared", "Microsoft.NETCore.App")), runtime.ReadOnlyDirectories[0]);
    }

    [Fact]
    public void For_NeitherLayout_FailsNamingBoth()
    {
        string exe = Touch("kindling-vmm");
        var e = Assert.Throws<JailException>(() => JailRuntime.For(exe, dotnetPath: "/opt/dotnet/dotnet"));
        Assert.Equal($"{exe}: neither a native kindling-vmm (NativeAOT), a self-contained one (libcoreclr.so beside it) nor a framework-dependent one ({exe}.dll is missing); build or publish vmm/Kindling.Vmm.Cli there", e.Message);
    }
}
