namespace Kindling.Runner.Tests.Replay.ActCorpus;

/// <summary>How the corpus harness reads a test's config/config.yml as runner_test.go does.</summary>
public sealed class ActCorpusRunTests : IDisposable
{
    private readonly string _testdata = Directory.CreateTempSubdirectory("kindling-act-config-").FullName;

    public void Dispose() => Directory.Delete(_testdata, recursive: true);

    [Fact]
    public void LocalRepositories_ConfigMap_FlagsWithTestdataPathsInTheCorpus()
    {
        string test = Path.Combine(_testdata, "local-remote-action-overrides");
        Directory.CreateDirectory(Path.Combine(test, "config"));
        File.WriteAllText(Path.Combine(test, "config", "config.yml"),
            "local-repositories:\n  https://github.com/nektos/test-override@a: testdata/actions/node20\n  nektos/test-override@b: testdata/actions/node16");

        Assert.Equal(
            [$"https://github.com/nektos/test-override@a={Path.Combine(_testdata, "actions/node20")}", $"nektos/test-override@b={Path.Combine(_testdata, "actions/node16")}"],
            ActCorpusRun.LocalRepositories(_testdata, test));
    }

    [Fact]
    public void LocalRepositories_NoConfig_None() => Assert.Empty(ActCorpusRun.LocalRepositories(_testdata, _testdata));
}
