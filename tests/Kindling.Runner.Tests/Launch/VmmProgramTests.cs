using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Launch;

/// <summary>Kindling:Launcher:VmmPath names kindling-vmm's executable or its dll; both start the same VMM.</summary>
public sealed class VmmProgramTests
{
    private static string Apphost => Path.Combine(AppContext.BaseDirectory, "kindling-vmm");

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "kindling-vmm.dll");

    [Fact]
    public void For_Executable_StartsItDirectly()
    {
        VmmProgram program = VmmProgram.For(Apphost);
        Assert.Equal(Apphost, program.FileName);
        Assert.Equal(["jail", "--reap"], program.Arguments(["jail", "--reap"]));
    }

    [Fact]
    public void For_Dll_StartsItWithDotnet()
    {
        VmmProgram program = VmmProgram.For(Dll);
        Assert.Equal("dotnet", Path.GetFileName(program.FileName));
        Assert.Equal([Dll, "probe-kvm"], program.Arguments(["probe-kvm"]));
    }

    [Fact]
    public void Locate_Unconfigured_UsesTheKindlingVmmBesideKindling()
    {
        // Beside kindling: the managed apphost of a build, or the native kindling-vmm a NativeAOT publish put there.
        Assert.Equal(Apphost, VmmLauncher.Locate(""));
    }

    [Fact]
    public void Locate_Configured_WinsOverTheOneBesideKindling()
    {
        Assert.Equal("/opt/kindling/native/kindling-vmm", VmmLauncher.Locate("/opt/kindling/native/kindling-vmm"));
    }

    /// <summary>Both layouts run the real kindling-vmm: the probe's answer (on a host without KVM, its reason) is the same.</summary>
    [Fact]
    public void KvmHostProbe_DllOrExecutable_SameAnswerFromTheVmm()
    {
        KvmHost viaExecutable = KvmHost.Probe(Apphost);
        KvmHost viaDll = KvmHost.Probe(Dll);
        Assert.Equal(viaExecutable.Backing, viaDll.Backing);
        if (viaExecutable.Backing == KvmHost.Unknown)
        {
            Assert.Equal(viaExecutable.Detail, viaDll.Detail);
            Assert.DoesNotContain("cannot start", viaDll.Detail, StringComparison.Ordinal);
        }
    }
}
