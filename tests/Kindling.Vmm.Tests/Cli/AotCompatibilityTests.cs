using System.Diagnostics;
using System.Reflection;
using Kindling.Vmm.Config;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>kindling-vmm stays publishable as one native binary: the analyzers run and the native build works.</summary>
public sealed class AotCompatibilityTests
{
    [Fact]
    public void Assemblies_VmmAndCli_AreBuiltWithTheTrimmingAndAotAnalyzers()
    {
        // IsAotCompatible (which turns the analyzers on, their warnings being errors) marks the assembly trimmable.
        foreach (Assembly assembly in new[] { typeof(VmConfig).Assembly, typeof(Kindling.Vmm.Cli.ProbeCommand).Assembly })
        {
            Assert.Contains(assembly.GetCustomAttributes<AssemblyMetadataAttribute>(), a => a is { Key: "IsTrimmable", Value: "True" });
        }
    }

    [Fact]
    public async Task Publish_NativeAot_HasNoTrimmingOrAotWarnings()
    {
        Assert.SkipUnless(NativeVmmBuild.Available, NativeVmmBuild.SkipReason);

        (string exe, string log) = await NativeVmmBuild.GetAsync();

        Assert.Empty(NativeVmmBuild.AotAnalyzerWarnings(log));
        Assert.True(ElfImage.Read(exe).IsNativeAot, $"{exe} is not a NativeAOT binary");
    }

    [Fact]
    public async Task Publish_NativeAot_NeedsOnlyGlibcAndAnswersHelp()
    {
        Assert.SkipUnless(NativeVmmBuild.Available, NativeVmmBuild.SkipReason);
        (string exe, _) = await NativeVmmBuild.GetAsync();

        // One file: no runtime, no assemblies; only glibc's own libraries (what the jail places beside it).
        Assert.Subset(new HashSet<string>(["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"]), ElfImage.Read(exe).Needed.ToHashSet());
        using Process p = Process.Start(new ProcessStartInfo(exe, ["--help"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string stdout = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, p.ExitCode);
        Assert.StartsWith("usage: kindling-vmm", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AotAnalyzerWarnings_BuildOutput_FindsEachIl2AndIl3DiagnosticOnce()
    {
        const string log = """
            /src/A.cs(3,5): warning IL2026: Using member 'JsonSerializer.Serialize<T>' which has 'RequiresUnreferencedCodeAttribute'
            /src/A.cs(3,5): warning IL2026: Using member 'JsonSerializer.Serialize<T>' which has 'RequiresUnreferencedCodeAttribute'
            /src/B.cs(9,1): error IL3050: Using member 'Deserialize' which has 'RequiresDynamicCodeAttribute'
            /src/C.cs(1,1): warning CA1822: Member does not access instance data
              Generating native code
            """;

        IReadOnlyList<string> found = NativeVmmBuild.AotAnalyzerWarnings(log);

        Assert.Equal(2, found.Count);
        Assert.Contains("IL2026", found[0], StringComparison.Ordinal);
        Assert.Contains("IL3050", found[1], StringComparison.Ordinal);
    }
}
