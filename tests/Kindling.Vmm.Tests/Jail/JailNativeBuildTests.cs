using System.Diagnostics;
using Kindling.Testing;
using Kindling.Vmm.Jail;
using Kindling.Vmm.Tests.Cli;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>
/// The jail with a native (NativeAOT) kindling-vmm, Firecracker's way: the binary is placed in the chroot as one file
/// with glibc's libraries and started from there; nothing of the host is bound. Needs root, not /dev/kvm.
/// </summary>
[Collection(JailCollection.Name)]
public sealed class JailNativeBuildTests : IDisposable
{
    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [RootFact]
    public async Task Start_NativeBuild_RunsItsChrootCopyWithNoHostFolderBound()
    {
        Assert.SkipUnless(NativeVmmBuild.Available, NativeVmmBuild.SkipReason);
        (string exe, _) = await NativeVmmBuild.GetAsync();

        string id = _host.NewId();
        JailSpec spec = _host.Spec(id, JailDebugAction.None) with { AppPath = exe, VmmArgs = ["--api-sock", "/run/api.sock", "--id", id] };
        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        Task<string> stderr = jail.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            string root = Path.Combine(_host.ChrootBase, "kindling-vmm", id, "root");
            string info = await JailTestHost.GetWhenListeningAsync(Path.Combine(root, "run", "api.sock"), jail, stderr);
            Assert.Contains("\"state\": \"Not started\"", info, StringComparison.Ordinal);

            // The chroot holds the binary (same bytes) and the libraries the loader named, as plain files.
            Assert.Equal(await File.ReadAllBytesAsync(exe, TestContext.Current.CancellationToken),
                await File.ReadAllBytesAsync(Path.Combine(root, "kindling-vmm"), TestContext.Current.CancellationToken));
            foreach (JailResource library in NativeLibraries.For(ElfImage.Read(exe)))
            {
                Assert.True(File.Exists(root + library.JailPath), $"{library.JailPath} is not in the chroot");
            }

            // It runs from the copy, as the jail's user, and its mount namespace has no dotnet or app folder.
            int child = JailTestHost.JailedChild(jail.Id);
            Assert.Equal(Path.Combine(root, "kindling-vmm"), File.ReadAllText($"/proc/{child}/cmdline").Split('\0')[0]);
            Assert.Contains($"Uid:\t{JailTestHost.Uid}\t", File.ReadAllText($"/proc/{child}/status"), StringComparison.Ordinal);
            string[] mounts = [.. File.ReadAllLines($"/proc/{child}/mountinfo").Select(l => l.Split(' ')[4])];
            Assert.Equal(["/", "/proc"], mounts.Order(StringComparer.Ordinal));
        }
        finally
        {
            jail.Kill(entireProcessTree: true);
            await jail.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }
}
