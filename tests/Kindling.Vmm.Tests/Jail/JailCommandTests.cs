using Kindling.Vmm.Cli;

namespace Kindling.Vmm.Tests.Jail;

[Collection(JailCollection.Name)]
public sealed class JailCommandTests
{
    [Fact]
    public void TryRun_OtherCommandLine_IsNotHandled()
    {
        Assert.False(JailCommand.TryRun(["--config-file", "vm.json"], out int exit));
        Assert.Equal(0, exit);
        Assert.False(JailCommand.TryRun([], out _));
    }

    [Fact]
    public void TryRun_JailWithInvalidId_FailsWithOneMessage()
    {
        TextWriter saved = Console.Error;
        using StringWriter error = new();
        Console.SetError(error);
        try
        {
            Assert.True(JailCommand.TryRun(["jail", "--id", "a/b", "--uid", "1", "--gid", "1"], out int exit));
            Assert.Equal(1, exit);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.StartsWith("kindling-vmm: jail: the jail id 'a/b' contains '/'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryRun_JailWithUnknownFlag_NamesItAndPrintsUsage()
    {
        TextWriter saved = Console.Error;
        using StringWriter error = new();
        Console.SetError(error);
        try
        {
            Assert.True(JailCommand.TryRun(["jail", "--bogus"], out int exit));
            Assert.Equal(1, exit);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.Contains("unknown argument '--bogus'", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("usage: kindling-vmm jail", error.ToString(), StringComparison.Ordinal);
    }
}
