using System.Diagnostics;
using Kindling.Images.ActionsRunner;
using Kindling.Images.Rootfs;
using Kindling.Images.Tests.ActionsRunner;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Spectre.Console;

namespace Kindling.Images.Tests.Rootfs;

/// <summary>The <c>github</c> flavour: its recipe and refusals (fast), the runner layer on a tree, and (slow) the whole image.</summary>
public sealed class GithubFlavourTests(ImageStoreFixture fixture)
{
    private const string Version = "2.338.0";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ImageStore StoreWith(string cache, ActionsRunnerSource? runner) =>
        new(new ImageStoreOptions { CacheDirectory = cache, GuestDirectory = ImageStoreFixture.GuestDirectory, ActionsRunner = runner });

    /// <summary>A local test tarball (<see cref="FakeActionsRunner"/>) as the configured release.</summary>
    private static ActionsRunnerSource LocalRelease(string dir, bool runner = true)
    {
        byte[] bytes = TestRunnerTarball.Build(runner, fillerBytes: 0);
        string file = Path.Combine(dir, $"actions-runner-linux-x64-{Version}.tar.gz");
        File.WriteAllBytes(file, bytes);
        return new ActionsRunnerSource(Version, TestRunnerTarball.Sha256(bytes), File: file);
    }

    [Fact]
    public void Parse_Github_IsTheGithubFlavour()
    {
        Assert.Equal(Flavour.Github, FlavourNames.Parse("GitHub"));
        Assert.Equal("github", Flavour.Github.ToName());
        Assert.Contains("github", Assert.Throws<ImageBuildException>(() => FlavourNames.Parse("ubuntu")).Message);
    }

    [Fact]
    public void RecipeFor_GithubWithoutActionsRunner_RefusedNamingTheKeysToSet()
    {
        using TempCache cache = new();

        ImageBuildException e = Assert.Throws<ImageBuildException>(() => StoreWith(cache.Path, null).RecipeFor(Flavour.Github));

        Assert.Contains($"{ActionsRunnerSource.ConfigKey}:Version", e.Message);
        Assert.Contains($"{ActionsRunnerSource.ConfigKey}:Sha256", e.Message);
    }

    [Fact]
    public void RecipeFor_GithubWithVersionButNoHash_RefusedNamingSha256()
    {
        using TempCache cache = new();

        ImageBuildException e = Assert.Throws<ImageBuildException>(() => StoreWith(cache.Path, new ActionsRunnerSource(Version, "")).RecipeFor(Flavour.Github));

        Assert.Contains($"{ActionsRunnerSource.ConfigKey}:Sha256: is empty", e.Message);
        Assert.DoesNotContain($"{ActionsRunnerSource.ConfigKey}:Version", e.Message);
    }

    [Fact]
    public void RecipeFor_Github_RunnerDependenciesToolsAndThePinnedRelease()
    {
        using TempCache cache = new();
        string hash = new('a', 64);

        BaseImageRecipe recipe = StoreWith(cache.Path, new ActionsRunnerSource(Version, "SHA256:" + hash.ToUpperInvariant())).RecipeFor(Flavour.Github);

        Assert.Equal(Flavour.Github, recipe.Flavour);
        foreach (string p in (string[])["libicu72", "libssl3", "libkrb5-3", "zlib1g", "liblttng-ust1", "ca-certificates", "git", "curl", "jq", "sudo", "tar", "unzip", "xz-utils"])
        {
            Assert.Contains(p, recipe.Packages);
        }

        Assert.Equal("bookworm", recipe.Suite);
        Assert.NotEmpty(recipe.Mirror);
        Assert.Contains($"actions-runner={Version} {hash}\n", recipe.Text);
    }

    [Fact]
    public void RecipeFor_GithubOtherRelease_OtherImage()
    {
        using TempCache cache = new();

        string a = StoreWith(cache.Path, new ActionsRunnerSource(Version, new string('a', 64))).RecipeFor(Flavour.Github).Hash;
        string b = StoreWith(cache.Path, new ActionsRunnerSource(Version, new string('b', 64))).RecipeFor(Flavour.Github).Hash;
        string c = StoreWith(cache.Path, new ActionsRunnerSource("2.339.0", new string('a', 64))).RecipeFor(Flavour.Github).Hash;

        Assert.Equal(3, new[] { a, b, c }.Distinct().Count());
    }

    [Fact]
    public void RecipeFor_DebianAndMinimal_UnchangedByTheActionsRunnerSetting()
    {
        using TempCache cache = new();
        ImageStore without = StoreWith(cache.Path, null);
        ImageStore with = StoreWith(cache.Path, new ActionsRunnerSource(Version, new string('a', 64)));

        Assert.Equal(without.RecipeFor(Flavour.Debian).Hash, with.RecipeFor(Flavour.Debian).Hash);
        Assert.Equal(without.RecipeFor(Flavour.Minimal).Hash, with.RecipeFor(Flavour.Minimal).Hash);
        Assert.DoesNotContain("actions-runner=", with.RecipeFor(Flavour.Debian).Text);
    }

    [Fact]
    public async Task EnsureBase_GithubTarballIsNoRunner_RefusedBeforeDebootstrapNothingCached()
    {
        using TempCache cache = new();
        ImageStore store = StoreWith(cache.Path, LocalRelease(cache.Path, runner: false));

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => store.EnsureBaseAsync(Flavour.Github, null, Ct));

        Assert.Contains("is not an actions/runner release", e.Message);
        Assert.Contains("run.sh", e.Message);
        Assert.False(Directory.Exists(Path.Combine(cache.Path, ImageStore.BaseDir)) && Directory.EnumerateFiles(Path.Combine(cache.Path, ImageStore.BaseDir)).Any());
        Assert.Empty(Directory.GetFiles(Path.Combine(cache.Path, ActionsRunnerFetcher.CacheDirName)));
    }

    [Fact]
    public async Task EnsureBase_GithubTarballWithOtherHash_RefusedNamingSha256NothingCached()
    {
        using TempCache cache = new();
        ActionsRunnerSource release = LocalRelease(cache.Path) with { Sha256 = new string('0', 64) };
        ImageStore store = StoreWith(cache.Path, release);

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => store.EnsureBaseAsync(Flavour.Github, null, Ct));

        Assert.Contains("SHA-256 mismatch", e.Message);
        Assert.Contains($"{ActionsRunnerSource.ConfigKey}:Sha256", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(cache.Path, ActionsRunnerFetcher.CacheDirName)));
    }

    [Fact]
    public async Task Build_GithubWithoutActionsRunner_ExitOneNamingTheKeyAndNoKernelFetched()
    {
        using TempCache cache = new();
        (IAnsiConsole console, StringWriter output) = PlainConsole.Create(width: 400);

        int code = await new ImageCommands(StoreWith(cache.Path, null)).BuildAsync(Flavour.Github, console, Ct);

        Assert.Equal(1, code);
        Assert.Contains($"{ActionsRunnerSource.ConfigKey}:Version", output.ToString().ReplaceLineEndings(""));
        Assert.False(Directory.Exists(Path.Combine(cache.Path, ImageStore.KernelDir)));
    }

    [Fact]
    public async Task List_CachedRelease_ShownWithItsSize()
    {
        using TempCache cache = new();
        ActionsRunnerSource release = LocalRelease(cache.Path);
        using HttpClient http = new();
        ActionsRunnerTarball tarball = await new ActionsRunnerFetcher(cache.Path, http).EnsureAsync(release, null, Ct);
        (IAnsiConsole console, StringWriter output) = PlainConsole.Create(width: 400);

        int code = new ImageCommands(StoreWith(cache.Path, release)).List(console);

        Assert.Equal(0, code);
        string row = output.ToString().Split('\n').Single(l => l.Contains(Path.GetFileName(tarball.Path), StringComparison.Ordinal));
        Assert.Contains("actions-runner", row);
        Assert.Contains("KiB", row);
    }

    [RootFact]
    public async Task AddRunnerLayer_DebianLikeTree_RunnerUserSudoRuleAndReleaseOwnedByRunner()
    {
        using TempCache cache = new();
        string tree = await TreeAsync(cache.Path, "root:x:0:0:root:/root:/bin/bash\n");
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "group"), "root:x:0:\nsudo:x:27:\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "shadow"), "root:*:19000:0:99999:7:::\n", Ct);
        ActionsRunnerSource release = LocalRelease(cache.Path);

        await ActionsRunnerLayer.AddAsync(tree, release.File!, null, Ct);

        Assert.EndsWith("runner:x:1001:1001:GitHub Actions runner:/home/runner:/bin/bash\n", await File.ReadAllTextAsync(Path.Combine(tree, "etc", "passwd"), Ct));
        Assert.EndsWith("runner:x:1001:\n", await File.ReadAllTextAsync(Path.Combine(tree, "etc", "group"), Ct));
        Assert.EndsWith("runner:*::0:99999:7:::\n", await File.ReadAllTextAsync(Path.Combine(tree, "etc", "shadow"), Ct));
        string sudoers = Path.Combine(tree, "etc", "sudoers.d", "runner");
        Assert.Equal("runner ALL=(ALL:ALL) NOPASSWD:ALL\n", await File.ReadAllTextAsync(sudoers, Ct));
        Assert.Equal("440", await ModeAsync(sudoers));
        string install = Path.Combine(tree, "opt", "actions-runner");
        Assert.Equal(FakeActionsRunner.RunScript + "\n", await File.ReadAllTextAsync(Path.Combine(install, "run.sh"), Ct));
        Assert.Equal("755", await ModeAsync(Path.Combine(install, "bin", "Runner.Listener")));
        Assert.Equal("/workspace", new FileInfo(Path.Combine(install, "_work")).LinkTarget);
        foreach (string path in (string[])[install, Path.Combine(install, "run.sh"), Path.Combine(install, "bin", "Runner.Listener"), Path.Combine(tree, "home", "runner")])
        {
            Assert.Equal("1001:1001", await OwnerAsync(path));
        }

        Assert.Equal("0:0", await OwnerAsync(sudoers));
    }

    [RootFact]
    public async Task AddRunnerLayer_TreeHasUid1001_RefusedNamingTheUser()
    {
        using TempCache cache = new();
        string tree = await TreeAsync(cache.Path, "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/sh\n");

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => ActionsRunnerLayer.AddAsync(tree, LocalRelease(cache.Path).File!, null, Ct));

        Assert.Contains("'alice' with uid 1001", e.Message);
    }

    /// <summary>Slow (debootstrap, minutes): the whole image, then the runner tried inside it as root would use it.</summary>
    [Fact]
    public async Task EnsureBase_Github_RunnerAtOptOwnedByRunnerWhoCanSudo()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("KINDLING_SLOW_TESTS") == "1", "slow (debootstrap, minutes): set KINDLING_SLOW_TESTS=1");
        Assert.SkipWhen(HostFacts.RootUnavailableReason is not null, "debootstrap needs root");
        using TempCache scratch = new();
        ImageStore store = new(new ImageStoreOptions
        {
            CacheDirectory = fixture.Store.CacheDirectory, GuestDirectory = ImageStoreFixture.GuestDirectory, ActionsRunner = LocalRelease(scratch.Path),
        });

        BaseImage image = await store.EnsureBaseAsync(Flavour.Github, null, Ct);

        var run = await Tools.RunAsync("debugfs", "-R", "stat /opt/actions-runner/run.sh", image.Path);
        Assert.Matches(@"User:\s+1001\s+Group:\s+1001", run.Out);
        Assert.Contains("Type: regular", run.Out);
        Assert.Equal(0, (await Tools.RunAsync("e2fsck", "-fn", image.Path)).Exit);
        // Inside the image (read-only, in a private mount namespace): runner is uid 1001, sudo without a password
        // makes it root, and setpriv (which the agent uses to drop to runner) is there.
        string mnt = Directory.CreateDirectory(Path.Combine(scratch.Path, "mnt")).FullName;
        string script = $"""
            set -e
            mount -o loop,ro '{image.Path}' '{mnt}'
            mount -t proc proc '{mnt}/proc'
            mount -t tmpfs tmpfs '{mnt}/run'
            mount -t tmpfs tmpfs '{mnt}/tmp'
            mount --bind /dev '{mnt}/dev'
            chroot '{mnt}' setpriv --reuid=runner --regid=runner --init-groups -- /bin/sh -c 'echo "user=$(id -un) uid=$(id -u)"; sudo -n id -u | sed "s/^/sudo=/"; ls -ld /opt/actions-runner'
            """;
        (int exit, string output) = await RunPrivateAsync(script);
        Assert.True(exit == 0, output);
        Assert.Contains("user=runner uid=1001", output);
        Assert.Contains("sudo=0", output);
        Assert.Matches(@"runner\s+runner\s+\d+ .* /opt/actions-runner", output);
    }

    /// <summary>A root tree under <paramref name="dir"/> with only /etc/passwd.</summary>
    private static async Task<string> TreeAsync(string dir, string passwd)
    {
        string tree = Directory.CreateDirectory(Path.Combine(dir, "tree")).FullName;
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "passwd"), passwd, Ct);
        return tree;
    }

    private static async Task<string> OwnerAsync(string path) => (await Tools.RunAsync("stat", "-c", "%u:%g", path)).Out.Trim();

    private static async Task<string> ModeAsync(string path) => (await Tools.RunAsync("stat", "-c", "%a", path)).Out.Trim();

    private static async Task<(int Exit, string Output)> RunPrivateAsync(string script)
    {
        ProcessStartInfo psi = new("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["--mount", "--propagation", "private", "sh", "-c", script])
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(Ct);
        Task<string> e = p.StandardError.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);
        return (p.ExitCode, await o + await e);
    }
}
