using Kindling.Vmm.Jail;
using Kindling.Vmm.Jail.Seccomp;

namespace Kindling.Vmm.Tests.Jail;

public sealed class JailInitOptionsTests
{
    [Fact]
    public void Parse_ToArgsOutput_RoundTripsEveryField()
    {
        JailInitOptions options = new()
        {
            Id = "vm-1",
            Root = "/srv/jailer/kindling-vmm/vm-1/root",
            Uid = 123,
            Gid = 456,
            ProcsFiles = ["/sys/fs/cgroup/cpu/kindling/vm-1/cgroup.procs", "/sys/fs/cgroup/pids/kindling/vm-1/cgroup.procs"],
            ReadOnlyDirectories = ["/usr/share/dotnet", "/opt/kindling"],
            BoundFiles = [new JailResource("/data/rootfs.ext4", "/rootfs.ext4"), new JailResource("/data/overlay.ext4", "/overlay.ext4", Writable: true)],
            RlimitNoFile = 2048,
            RlimitFsize = 1 << 20,
            KeepFds = [3, 7],
            DebugAction = JailDebugAction.Report,
            SeccompProgram = SeccompFilter.BuildVmmFilter(),
            VmmArgs = ["--config-file", "/vm.json", "--", "x"],
        };

        JailInitOptions parsed = JailInitOptions.Parse(options.ToArgs());

        Assert.Equal(options.Id, parsed.Id);
        Assert.Equal(options.Root, parsed.Root);
        Assert.Equal(options.Uid, parsed.Uid);
        Assert.Equal(options.Gid, parsed.Gid);
        Assert.Equal(options.ProcsFiles, parsed.ProcsFiles);
        Assert.Equal(options.ReadOnlyDirectories, parsed.ReadOnlyDirectories);
        Assert.Equal(options.BoundFiles, parsed.BoundFiles);
        Assert.Equal(options.RlimitNoFile, parsed.RlimitNoFile);
        Assert.Equal(options.RlimitFsize, parsed.RlimitFsize);
        Assert.Equal(options.KeepFds, parsed.KeepFds);
        Assert.Equal(options.DebugAction, parsed.DebugAction);
        Assert.Equal(options.VmmArgs, parsed.VmmArgs);
        Assert.Equal(options.SeccompProgram, parsed.SeccompProgram);
    }

    [Theory]
    [InlineData("--uid", "-1")]
    [InlineData("--bogus", "1")]
    [InlineData("--debug", "Explode")]
    [InlineData("--seccomp-bpf", "not base64!")]
    [InlineData("--seccomp-bpf", "AAAA")] // 3 bytes: not whole 8-byte instructions
    public void Parse_BadArgument_ThrowsNamingIt(string flag, string value)
    {
        JailException e = Assert.Throws<JailException>(() => JailInitOptions.Parse(["jail-init", "--id", "a", "--root", "/r", "--gid", "1", flag, value]));
        Assert.Contains(flag == "--debug" ? value : flag, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingUid_Throws() =>
        Assert.Contains("--uid", Assert.Throws<JailException>(() => JailInitOptions.Parse(["jail-init", "--id", "a", "--root", "/r", "--gid", "1"])).Message, StringComparison.Ordinal);

    [Fact]
    public void HostPathOf_PathWithDotDot_Throws() =>
        Assert.Throws<JailException>(() => new JailPaths("a", "/srv").HostPathOf("/run/../../etc"));
}
