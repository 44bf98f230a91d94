using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

public sealed class SecretArgumentsTests
{
    private sealed class AskingPrompter(string answer) : IReplayPrompter
    {
        public List<string> Asked { get; } = [];
        public bool IsInteractive => true;

        public string AskSecret(string name)
        {
            Asked.Add(name);
            return answer;
        }

        public int Choose(string title, IReadOnlyList<string> choices) => 0;
    }

    [Fact]
    public void Resolve_NameValue_Taken() =>
        Assert.Equal("v=1", SecretArguments.Resolve(["A=v=1"], null, false, _ => null, new NoPrompter())["A"]);

    [Fact]
    public void Resolve_NameOnly_FromEnvironment() =>
        Assert.Equal("from-env", SecretArguments.Resolve(["A"], null, false, n => n == "A" ? "from-env" : null, new NoPrompter())["A"]);

    [Fact]
    public void Resolve_NameOnlyNoEnvTerminal_Asks()
    {
        var prompter = new AskingPrompter("typed");
        Assert.Equal("typed", SecretArguments.Resolve(["A"], null, false, _ => null, prompter)["A"]);
        Assert.Equal(["A"], prompter.Asked);
    }

    [Fact]
    public void Resolve_NameOnlyNoEnvNoTerminal_ErrorNamesIt() =>
        Assert.StartsWith("-s A: the environment variable A is not set and there is no terminal to ask on",
            Assert.Throws<ReplayException>(() => SecretArguments.Resolve(["A"], null, false, _ => null, new NoPrompter())).Message, StringComparison.Ordinal);

    [Fact]
    public void Resolve_FileThenFlags_FlagWins()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("kindling-secrets-").FullName, ".secrets");
        try
        {
            File.WriteAllText(file, "A=file\nB=file\n");
            var s = SecretArguments.Resolve(["B=flag"], file, true, _ => null, new NoPrompter());
            Assert.Equal("file", s["A"]);
            Assert.Equal("flag", s["B"]);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public void Resolve_DefaultFileMissing_Ignored() =>
        Assert.Empty(SecretArguments.Resolve([], "/nonexistent/.secrets", false, _ => null, new NoPrompter()));

    [Fact]
    public void Resolve_ExplicitFileMissing_Error() =>
        Assert.Equal("--secret-file /nonexistent/s does not exist",
            Assert.Throws<ReplayException>(() => SecretArguments.Resolve([], "/nonexistent/s", true, _ => null, new NoPrompter())).Message);

    [Fact]
    public void Resolve_InvalidName_Error() =>
        Assert.Contains("'my-secret' is not a secret name", Assert.Throws<ReplayException>(() => SecretArguments.Resolve(["my-secret=x"], null, false, _ => null, new NoPrompter())).Message, StringComparison.Ordinal);

    [Fact]
    public void Pairs_MissingSeparator_Error() =>
        Assert.Equal("--matrix os: expected key:value", Assert.Throws<ReplayException>(() => SecretArguments.Pairs(["os"], ':', "--matrix")).Message);
}
