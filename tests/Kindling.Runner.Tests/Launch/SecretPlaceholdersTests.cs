using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;
using Kindling.Runner.Tests.Replay;

namespace Kindling.Runner.Tests.Launch;

public sealed class SecretPlaceholdersTests
{
    private static string? Value(string name) => name switch { "A" => SecretScriptWorkflow.Nasty, "E" => "", _ => null };

    [Fact]
    public void Substitute_NastyValues_CopiedByteForByteAndNotSearchedAgain()
    {
        string script = "echo '%%kindling-secret:A%%' [%%kindling-secret:E%%] %%kindling-secret:A%%";

        string? text = SecretPlaceholders.Substitute(script, 3, Value, out string? error);

        Assert.Null(error);
        Assert.Equal($"echo '{SecretScriptWorkflow.Nasty}' [] {SecretScriptWorkflow.Nasty}", text);
    }

    [Theory]
    [InlineData("x %%kindling-secret:B%%", "kindling: step 3: the script names the secret B, which the job document does not hold")]
    [InlineData("x %%kindling-secret:a b%%", "kindling: step 3: the script holds a malformed secret placeholder")]
    [InlineData("x %%kindling-secret:A", "kindling: step 3: the script holds a malformed secret placeholder")]
    public void Substitute_PlaceholderTheAgentRefuses_NullAndTheAgentsMessage(string script, string message)
    {
        Assert.Null(SecretPlaceholders.Substitute(script, 3, Value, out string? error));
        Assert.Equal(message, error);
    }

    [Fact]
    public void Masked_Placeholders_ShownAsStars() =>
        Assert.Equal("echo '***' \"***\"", SecretPlaceholders.Masked("echo '%%kindling-secret:A%%' \"%%kindling-secret:KINDLING_SECRET_1%%\""));

    [Fact]
    public void DryRun_SecretsInScripts_StarsNeverAValueNorAPlaceholder()
    {
        ReplayInputs inputs = ReplayCorpus.Inputs(SecretScriptWorkflow.Secrets);
        string plan = DryRunPrinter.Print(ReplayPlanner.Plan(WorkflowParser.Parse(SecretScriptWorkflow.Yaml, "secrets.yml"), "a", inputs));

        Assert.Contains("| echo '***' | grep -x 'top-secre[t]'", plan, StringComparison.Ordinal);
        Assert.Contains("| v = r'''***'''", plan, StringComparison.Ordinal);
        Assert.Contains("note: the guest writes secret values into the script", plan, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretScriptWorkflow.Key, plan, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretPlaceholders.Prefix, plan, StringComparison.Ordinal);
    }
}
