using Kindling.Images.Rootfs;
using Kindling.Runner.Cli;

namespace Kindling.Runner.Tests.Cli;

public sealed class HostSetupTests
{
    /// <summary>
    /// A Debian host's package system, refusing what apt refuses: on a fresh machine the package lists are empty,
    /// so an install before <c>apt-get update</c> fails (exit 100, "Unable to locate package"), as does a package
    /// the archive does not have.
    /// </summary>
    private sealed class FakeDebian(IEnumerable<string> installed, bool listsFetched = false) : IPackageSystem
    {
        private static readonly HashSet<string> Archive =
            [.. HostSetup.ImagePackages, .. HostSetup.DebianRootfsPackages, .. HostSetup.KernelBuildPackages, .. HostSetup.VmPackages];

        private readonly HashSet<string> _installed = [.. installed];
        private bool _lists = listsFetched;

        public List<string> Calls { get; } = [];

        public bool HasApt { get; init; } = true;

        public IReadOnlySet<string> Installed(IReadOnlyList<string> packages) => packages.Where(_installed.Contains).ToHashSet();

        public Task<int> AptGetAsync(IReadOnlyList<string> arguments, CancellationToken ct)
        {
            if (!HasApt)
            {
                throw new FileNotFoundException("apt-get could not be run (No such file or directory)", "apt-get");
            }

            Calls.Add(string.Join(' ', arguments));
            switch (arguments[0])
            {
                case "update":
                    _lists = true;
                    return Task.FromResult(0);
                case "install" when arguments.Contains("-y"):
                    string[] names = [.. arguments.Skip(1).Where(a => !a.StartsWith('-'))];
                    if (!_lists || names.Any(n => !Archive.Contains(n)))
                    {
                        return Task.FromResult(100);
                    }

                    _installed.UnionWith(names);
                    return Task.FromResult(0);
                default:
                    return Task.FromResult(100); // an install that would ask (no -y) fails without a terminal
            }
        }
    }

    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task EnsureAsync_AllInstalled_RunsNoAptAndSaysNothing()
    {
        var debian = new FakeDebian(HostSetup.ImagePackages);
        var output = new StringWriter();
        Assert.Null(await new HostSetup(debian, isRoot: true, output).EnsureAsync("kindling demo", HostSetup.ImagePackages, Ct));
        Assert.Empty(debian.Calls);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task EnsureAsync_RootOnFreshHost_ListsThenUpdatesOnceAndInstallsOnlyTheMissing()
    {
        var debian = new FakeDebian(["e2fsprogs", "kmod", "xz-utils"]);
        var output = new StringWriter();

        string? problem = await new HostSetup(debian, isRoot: true, output).EnsureAsync("kindling demo", HostSetup.ForImages(Flavour.Minimal), Ct);

        Assert.Null(problem);
        Assert.Equal("kindling demo: installing the Debian packages it needs: busybox-static zstd" + Environment.NewLine, output.ToString());
        Assert.Equal(["update -qq", "install -y -qq --no-install-recommends busybox-static zstd"], debian.Calls);
        Assert.Equal(["busybox-static", "zstd"], debian.Installed(["busybox-static", "zstd"]).Order());
    }

    [Fact]
    public async Task EnsureAsync_NotRoot_InstallsNothingAndGivesTheExactCommand()
    {
        var debian = new FakeDebian(["e2fsprogs", "kmod", "xz-utils", "zstd"]);
        var output = new StringWriter();

        string? problem = await new HostSetup(debian, isRoot: false, output).EnsureAsync("kindling images build", HostSetup.ForImages(Flavour.Debian), Ct);

        Assert.Equal("missing Debian packages: busybox-static debootstrap; install them as root: " +
                     "sudo apt-get install -y --no-install-recommends busybox-static debootstrap (or run kindling images build as root: it installs them itself)", problem);
        Assert.Empty(debian.Calls);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task EnsureAsync_PackageTheArchiveLacks_FailsNamingTheCommand()
    {
        var debian = new FakeDebian([]);
        string? problem = await new HostSetup(debian, isRoot: true, TextWriter.Null).EnsureAsync("kindling replay", ["busybox-static", "no-such-package"], Ct);
        Assert.Equal("apt-get install -y --no-install-recommends busybox-static no-such-package failed (exit 100); see apt-get's output above", problem);
        Assert.Empty(debian.Installed(["busybox-static"]));
    }

    [Fact]
    public async Task EnsureAsync_HostWithoutApt_SaysSoNamingThePackages()
    {
        var debian = new FakeDebian([]) { HasApt = false };
        string? problem = await new HostSetup(debian, isRoot: true, TextWriter.Null).EnsureAsync("kindling demo", ["busybox-static"], Ct);
        Assert.StartsWith("missing Debian packages: busybox-static, and apt-get could not be run", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ForImages_FlavourAndKernel_AddTheirTools()
    {
        Assert.DoesNotContain("debootstrap", HostSetup.ForImages(Flavour.Minimal));
        Assert.Contains("debootstrap", HostSetup.ForImages(Flavour.Debian));
        Assert.Contains("debootstrap", HostSetup.ForImages(Flavour.Github));
        Assert.Contains("busybox-static", HostSetup.ForImages(Flavour.Debian));
        Assert.DoesNotContain("libelf-dev", HostSetup.ForImages(Flavour.Minimal));
        Assert.Contains("libelf-dev", HostSetup.ForImages(Flavour.Minimal, kindlingKernel: true));
    }

    /// <summary>The real dpkg-query, read only: dpkg itself is always installed on Debian; a made-up name never is.</summary>
    [Fact]
    public void AptPackageSystem_Installed_ReadsDpkgsStatus()
    {
        if (!File.Exists("/usr/bin/dpkg-query"))
        {
            Assert.Skip("needs dpkg-query (a Debian-based host)");
        }

        IReadOnlySet<string> installed = new AptPackageSystem().Installed(["dpkg", "kindling-no-such-package"]);
        Assert.Equal(["dpkg"], installed);
    }
}
