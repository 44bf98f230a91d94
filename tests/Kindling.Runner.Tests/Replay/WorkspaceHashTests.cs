using System.Security.Cryptography;
using System.Text;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Tests.Replay;

/// <summary>hashFiles(): which files, in which order, and the digest GitHub's runner computes over them.</summary>
public sealed class WorkspaceHashTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-hashfiles-").FullName;

    public WorkspaceHashTests()
    {
        Write("package-lock.json", "root lock");
        Write("a/package-lock.json", "a lock");
        Write("a.txt", "a text");
        Write("web/node_modules/x/package-lock.json", "vendored lock");
        Write("web/package-lock.json", "web lock");
        Write(".config/settings.yml", "dot dir");
        Write("src/main.go", "package main");
        Write("src/go.sum", "sums");
        Write(".git/config", "not the workspace");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Write(string rel, string content)
    {
        string path = Path.Combine(_root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private WorkspaceHash Hash() => new(_root, () => WorkspaceHash.DirectoryFiles(_root));

    /// <summary>The runner's definition, by hand: SHA-256 over the files' SHA-256 digests, in the given order.</summary>
    private static string Expected(params string[] contents)
    {
        using var all = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string c in contents)
        {
            all.AppendData(SHA256.HashData(Encoding.UTF8.GetBytes(c)));
        }

        return Convert.ToHexStringLower(all.GetHashAndReset());
    }

    [Fact]
    public void DoubleStar_MatchesAtEveryDepth_DepthFirstInOrdinalOrder()
    {
        // "a" sorts before "a.txt" and "package-lock.json"; a directory's files come where the directory sorts.
        Assert.Equal(Expected("a lock", "root lock", "vendored lock", "web lock"), Hash().Compute(["**/package-lock.json"]));
    }

    [Fact]
    public void Exclusion_LaterPatternWins_AndReincludes()
    {
        Assert.Equal(Expected("a lock", "root lock", "web lock"), Hash().Compute(["**/package-lock.json", "!**/node_modules/**"]));
        Assert.Equal(Expected("a lock", "root lock", "vendored lock", "web lock"),
            Hash().Compute(["**/package-lock.json\n!**/node_modules/**\nweb/node_modules/x/*.json"]));
    }

    [Fact]
    public void Directory_BringsItsFiles_DotFilesIncluded_GitFolderNot()
    {
        Assert.Equal(Expected("sums", "package main"), Hash().Compute(["src"]));
        Assert.Equal(Expected("dot dir"), Hash().Compute(["*/*.yml"]));
        Assert.Equal("", Hash().Compute([".git/**"]));
    }

    [Fact]
    public void Wildcards_StarQuestionAndClass()
    {
        Assert.Equal(Expected("a text"), Hash().Compute(["?.txt"]));
        Assert.Equal(Expected("sums"), Hash().Compute(["src/go.[st]um"]));
        Assert.Equal(Expected("package main"), Hash().Compute(["src/*.[!s]o"]));
    }

    [Fact]
    public void NoMatch_EmptyString() => Assert.Equal("", Hash().Compute(["**/Cargo.lock"]));

    [Theory]
    [InlineData("/etc/passwd", "not absolute paths")]
    [InlineData("../outside/*", "'..' leaves the workspace")]
    [InlineData("!**/x", "at least one pattern that is not an exclusion")]
    public void BadPattern_ClearError(string pattern, string expected) =>
        Assert.Contains(expected, Assert.Throws<ReplayException>(() => Hash().Compute([pattern])).Message, StringComparison.Ordinal);

    [Fact]
    public void Expression_HashFilesInAStep_UsesTheWorkspace()
    {
        WorkspaceHash hash = Hash();
        var ctx = new ExprContext
        {
            Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase) { ["runner"] = ExprValue.Object([new("os", ExprValue.String("Linux"))]) },
            HashFiles = p => hash.Compute(p),
            Where = "ci.yml: job 'build'",
        };
        Assert.Equal($"Linux-{Expected("sums")}", Template.Evaluate("${{ runner.os }}-${{ hashFiles('**/go.sum') }}", ctx).ToString());
        var e = Assert.Throws<ExpressionException>(() => ExprEvaluator.Evaluate("hashFiles('/abs')", ctx));
        Assert.StartsWith("ci.yml: job 'build': hashFiles('/abs')", e.Message, StringComparison.Ordinal);
    }
}
