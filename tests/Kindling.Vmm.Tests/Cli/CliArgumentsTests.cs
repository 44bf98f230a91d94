using Kindling.Vmm.Cli;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Tests.Cli;

public sealed class CliArgumentsTests
{
    [Fact]
    public void Parse_AllFlags_Stored()
    {
        CliArguments args = CliArguments.Parse(["--config-file", "vm.json", "--no-api", "--id", "job-42", "--log-level", "Debug"]);

        Assert.Equal("vm.json", args.ConfigFile);
        Assert.True(args.NoApi);
        Assert.Equal("job-42", args.Id);
        Assert.Equal("Debug", args.LogLevel);
    }

    [Fact]
    public void Parse_EqualsForm_Accepted()
    {
        CliArguments args = CliArguments.Parse(["--config-file=vm.json", "--api-sock=/tmp/a.sock"]);

        Assert.Equal("vm.json", args.ConfigFile);
        Assert.Equal("/tmp/a.sock", args.ApiSocket);
    }

    [Fact]
    public void Parse_NoApiWithoutConfigFile_Throws()
    {
        CliException e = Assert.Throws<CliException>(() => CliArguments.Parse(["--no-api"]));

        Assert.StartsWith("--no-api needs --config-file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FlagMissingItsValue_Throws()
    {
        CliException e = Assert.Throws<CliException>(() => CliArguments.Parse(["--no-api", "--config-file"]));

        Assert.StartsWith("--config-file needs a value", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("")]
    [InlineData("a/b")]
    public void Parse_BadId_Throws(string id)
    {
        Assert.Throws<CliException>(() => CliArguments.Parse(["--no-api", "--config-file", "x", "--id", id]));
    }

    [Theory]
    [InlineData("Off", LogLevel.None)]
    [InlineData("error", LogLevel.Error)]
    [InlineData("Warning", LogLevel.Warning)]
    [InlineData("Info", LogLevel.Information)]
    [InlineData("DEBUG", LogLevel.Debug)]
    [InlineData("Trace", LogLevel.Trace)]
    public void ParseLogLevel_FirecrackerNames_Map(string name, LogLevel level)
    {
        Assert.Equal(level, CliArguments.ParseLogLevel(name));
    }

    [Fact]
    public void Parse_UnknownLogLevel_Throws()
    {
        Assert.Throws<CliException>(() => CliArguments.Parse(["--no-api", "--config-file", "x", "--log-level", "loud"]));
    }
}
