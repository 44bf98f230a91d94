using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

public sealed class WorkflowCommandsTests
{
    [Fact]
    public void Parse_CommandWithPropertiesAndEscapes_Decoded()
    {
        WorkflowCommand c = WorkflowCommands.Parse("  ::set-output name=a%3Ab%2Cc,extra=1::line1%0Aline2 100%25")!;

        Assert.Equal("set-output", c.Name);
        Assert.Equal("a:b,c", c.Properties["name"]);
        Assert.Equal("1", c.Properties["extra"]);
        Assert.Equal("line1\nline2 100%", c.Data);
    }

    [Theory]
    [InlineData("plain text")]
    [InlineData("::no-end")]
    [InlineData(":::: empty name")]
    [InlineData("echo ::set-output name=x::y")]
    public void Parse_NotACommand_Null(string line) => Assert.Null(WorkflowCommands.Parse(line));

    [Fact]
    public void Process_OutputsStateMasks_Gathered()
    {
        var w = new WorkflowCommands(allowUnsecureCommands: false);
        foreach (string line in new[] { "::set-output name=zoo::zar", "hello", "::save-state name=pid::42", "::add-mask::s3cret", "::debug::ignored", "::set-output name=zoo::zaz" })
        {
            w.Process(line);
        }

        Assert.Equal(new Dictionary<string, string> { ["zoo"] = "zaz" }, w.Outputs);
        Assert.Equal("42", w.State["pid"]);
        Assert.Equal(["s3cret"], w.Masks);
        Assert.Empty(w.Errors);
    }

    [Fact]
    public void Process_SetEnvAndAddPathDisallowed_RefusedWithTheFix()
    {
        var w = new WorkflowCommands(allowUnsecureCommands: false);
        w.Process("::set-env name=foo::bar");
        w.Process("::add-path::/zip");

        Assert.Empty(w.Env);
        Assert.Empty(w.Path);
        Assert.Equal(2, w.Errors.Count);
        Assert.Contains("ACTIONS_ALLOW_UNSECURE_COMMANDS=true", w.Errors[0], StringComparison.Ordinal);
        Assert.Contains("$GITHUB_PATH", w.Errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Process_SetEnvAndAddPathAllowed_Applied()
    {
        var w = new WorkflowCommands(WorkflowCommands.AllowsUnsecure(new Dictionary<string, string> { ["ACTIONS_ALLOW_UNSECURE_COMMANDS"] = " TRUE " }));
        w.Process("::set-env name=foo::bar");
        w.Process("::add-path::/zip");

        Assert.Equal("bar", w.Env["foo"]);
        Assert.Equal(["/zip"], w.Path);
    }

    [Fact]
    public void Process_StopCommands_IgnoredUntilTheToken()
    {
        var w = new WorkflowCommands(allowUnsecureCommands: true);
        w.Process("::set-env name=foo::bar");
        w.Process("::stop-commands::my-end-token");
        w.Process("::set-env name=foo::baz");
        w.Process("::my-end-token::");
        Assert.Equal("bar", w.Env["foo"]);
        w.Process("::set-env name=foo::baz");
        Assert.Equal("baz", w.Env["foo"]);
    }

    [Fact]
    public void Process_SetOutputWithoutName_Error()
    {
        var w = new WorkflowCommands(allowUnsecureCommands: false);
        w.Process("::set-output::v");
        Assert.Empty(w.Outputs);
        Assert.Contains("needs a name", Assert.Single(w.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void AllowsUnsecure_MissingOrOtherValue_False()
    {
        Assert.False(WorkflowCommands.AllowsUnsecure(new Dictionary<string, string>()));
        Assert.False(WorkflowCommands.AllowsUnsecure(new Dictionary<string, string> { ["ACTIONS_ALLOW_UNSECURE_COMMANDS"] = "1" }));
    }
}
