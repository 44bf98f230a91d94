using System.Diagnostics;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using Kindling.Images.Guest;

namespace Kindling.Images.Tests.Guest;

/// <summary>The job as one MMDS document (PROTOCOL.md): what the runner writes, the agent's shell and JobDocument.Parse read back exactly.</summary>
public sealed class JobDocumentTests
{
    /// <summary>Values that would break a naive quoting: quotes, expansions, newlines, a forged record, CR, unicode.</summary>
    private static readonly string[] Nasty =
    [
        "", "plain", "it's", "'", "''", "\\'", "$(touch /tmp/kindling-pwned)", "`id`", "${HOME}", "a\nb", "\n", "x\r\ny", "\"$NL\"",
        "'\"$NL\"'", "end'\ndoc_secret 'EVIL' 'x", "tab\there", "ü ✓ 🔥", "; rm -rf / #", "doc_complete", "\\", "a b  c ",
    ];

    private static JsonObject Tree(string value) => new()
    {
        ["kindling"] = new JsonObject
        {
            ["job"] = new JsonObject
            {
                ["id"] = "42", ["name"] = value, ["timeout_seconds"] = "60", ["step_count"] = "1",
                ["steps"] = new JsonObject
                {
                    ["0"] = new JsonObject { ["name"] = value, ["run"] = value, ["if"] = "success()", ["env"] = new JsonObject { ["STEPVAR"] = value } },
                },
                ["env"] = new JsonObject { ["GREETING"] = value },
            },
            ["secrets"] = new JsonObject { ["API_KEY"] = value },
            ["network"] = new JsonObject { ["address"] = "172.16.0.2/30" },
            ["github"] = new JsonObject { ["jitconfig"] = value },
        },
    };

    [Fact]
    public void Parse_EncodedTreeWithNastyValues_GivesTheTreeBack()
    {
        foreach (string v in Nasty)
        {
            JsonObject tree = Tree(v);
            Assert.True(JsonNode.DeepEquals(tree, JobDocument.Parse(JobDocument.Encode(tree))), JobDocument.Encode(tree));
        }
    }

    [Fact]
    public void Parse_EncodedTreeWithAnyValue_GivesTheTreeBack() =>
        Prop.ForAll(Arb.From(ArbMap.Default.GeneratorFor<string>().Where(s => s is not null && !s.Contains('\0', StringComparison.Ordinal))), v =>
        {
            JsonObject tree = Tree(v);
            return JsonNode.DeepEquals(tree, JobDocument.Parse(JobDocument.Encode(tree)));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500).WithQuietOnSuccess(true));

    [Fact]
    public void Encode_EveryRecordOnOneLine_StartingWithDocFunction()
    {
        string doc = JobDocument.Encode(Tree("a\nb\r\nc"));

        Assert.All(doc.TrimEnd('\n').Split('\n'), l => Assert.StartsWith("doc_", l, StringComparison.Ordinal));
        Assert.StartsWith("doc_version 1\n", doc, StringComparison.Ordinal);
        Assert.EndsWith("\ndoc_complete\n", doc, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_ValueWithNul_RefusedNamingTheField()
    {
        JsonObject tree = Tree("ok");
        tree["kindling"]!["job"]!["steps"]!["0"]!["env"]!["STEPVAR"] = "a\0b";

        var e = Assert.Throws<ArgumentException>(() => JobDocument.Encode(tree));

        Assert.Contains("job.steps.0.env.STEPVAR", e.Message, StringComparison.Ordinal);
        Assert.Contains("NUL", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("doc_version 1\ndoc_job id '1'\n")]                          // truncated: no doc_complete
    [InlineData("doc_job id '1'\ndoc_complete\n")]                           // no version
    [InlineData("doc_version 1\ndoc_job id '1\ndoc_complete\n")]             // unterminated quote
    [InlineData("doc_version 1\nrm -rf /\ndoc_complete\n")]                  // not a record
    [InlineData("doc_version 1\ndoc_job id '1'$(id)\ndoc_complete\n")]       // text outside quotes
    [InlineData("doc_version 1\ndoc_job evil '1'\ndoc_complete\n")]          // unknown field
    public void Parse_NotWhatEncodeWrites_Refused(string document) =>
        Assert.Throws<FormatException>(() => JobDocument.Parse(document));

    [Fact]
    public void EncodeStep_TimeoutAndAddPath_RoundTripAsStepFields()
    {
        var step = new JsonObject { ["name"] = "slow", ["run"] = "sleep 9", ["timeout_seconds"] = "60", ["add_path"] = "/opt/a\n/opt/b" };

        string doc = JobDocument.EncodeStep(4, step);

        Assert.Contains("doc_step 4 timeout_seconds '60'\n", doc, StringComparison.Ordinal);
        Assert.Contains("doc_step 4 add_path '/opt/a'\"$NL\"'/opt/b'\n", doc, StringComparison.Ordinal);
        JsonNode parsed = JobDocument.Parse(doc)["kindling"]!["job"]!["steps"]!["4"]!;
        Assert.Equal(("60", "/opt/a\n/opt/b"), (parsed["timeout_seconds"]!.GetValue<string>(), parsed["add_path"]!.GetValue<string>()));
    }

    [Fact]
    public void EncodeStep_NullStep_IsDocEnd()
    {
        Assert.Equal("doc_version 1\ndoc_end\ndoc_complete\n", JobDocument.EncodeStep(3, null));
        Assert.Equal("true", JobDocument.Parse(JobDocument.EncodeStep(3, null))["kindling"]!["end"]!.GetValue<string>());
    }

    /// <summary>The agent's reading: busybox sh evaluates each quoted value back to exactly the original bytes.</summary>
    [Fact]
    public async Task Quote_NastyValues_BusyboxShReadsThemBackExactly()
    {
        Assert.SkipUnless(File.Exists("/bin/busybox"), "needs /bin/busybox");
        string script = "NL='\n'\nCR=$(printf '\\r')\n" + string.Concat(Nasty.Select((v, i) =>
            $"v={JobDocument.Quote(v, "test")}\nprintf '%s' \"$v\" > \"$1/{i}\"\n"));
        string dir = Directory.CreateTempSubdirectory("kindling-quote-").FullName;
        try
        {
            string file = Path.Combine(dir, "script.sh");
            await File.WriteAllTextAsync(file, script, TestContext.Current.CancellationToken);
            using Process p = Process.Start(new ProcessStartInfo("/bin/busybox", ["sh", file, dir]) { RedirectStandardError = true })!;
            await p.WaitForExitAsync(TestContext.Current.CancellationToken);

            Assert.Equal(0, p.ExitCode);
            for (int i = 0; i < Nasty.Length; i++)
            {
                Assert.Equal(Nasty[i], await File.ReadAllTextAsync(Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), TestContext.Current.CancellationToken));
            }

            Assert.False(File.Exists("/tmp/kindling-pwned"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
