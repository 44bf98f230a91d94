using Kindling.Runner.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kindling.Runner.Tests.Configuration;

/// <summary><c>Pools:N:Warm</c>: documented in config/kindling.json (0), refused negative, past the host's capacity or without warm starts.</summary>
public sealed class WarmPoolOptionsTests
{
    private static readonly CredentialSources SetUp = new(
        name => name.StartsWith("KINDLING__", StringComparison.Ordinal) ? null : "value-of-" + name, path => "contents of " + path);

    /// <summary>The shipped config with a 16-vCPU, 8 GiB host and <paramref name="pairs"/>.</summary>
    private static IReadOnlyList<string> Errors(params (string Key, string Value)[] pairs)
    {
        IConfiguration config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Kindling.Testing.RepoPaths.Root, "config", "kindling.json"), optional: false)
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Kindling:StateDirectory"] = "/tmp/x", ["Kindling:Host:Vcpus"] = "16", ["Kindling:Host:MemoryMib"] = "8192" })
            .AddInMemoryCollection(pairs.ToDictionary(p => p.Key, p => (string?)p.Value))
            .Build();
        var o = new KindlingOptions();
        ConfigurationSchema.Bind(config, o);
        return new KindlingOptionsValidator(config, SetUp).Validate(null, o).Failures?.ToList() ?? [];
    }

    [Fact]
    public void Validate_ShippedConfig_WarmIsDocumentedAsZero()
    {
        IConfiguration shipped = new ConfigurationBuilder().AddJsonFile(Path.Combine(Kindling.Testing.RepoPaths.Root, "config", "kindling.json")).Build();

        Assert.Equal("0", shipped["Kindling:Pools:0:Warm"]);
        Assert.Empty(Errors());
    }

    [Fact]
    public void Validate_WarmWithinTheHost_Valid() => Assert.Empty(Errors(("Kindling:Pools:0:Warm", "2")));

    [Fact]
    public void Validate_NegativeWarm_NamesTheKeyAndTheFix()
    {
        string e = Assert.Single(Errors(("Kindling:Pools:0:Warm", "-1")));

        Assert.Equal("Kindling:Pools:0:Warm: is -1; must be 0 (no warm slots) or more", e);
    }

    [Fact]
    public void Validate_WarmPastTheHostsCapacity_SaysHowManyFit()
    {
        // 8192 MiB hold 4 VMs of the pool's 2048 MiB.
        IReadOnlyList<string> errors = Errors(("Kindling:Pools:0:Warm", "5"));

        Assert.Contains(errors, e => e.StartsWith("Kindling:Pools:0:Warm: is 5, more than the 4 VMs of 2 vCPUs/2048 MiB the host holds", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_WarmOfAllPoolsPastTheHost_Refused()
    {
        IReadOnlyList<string> errors = Errors(
            ("Kindling:Pools:0:Warm", "3"),
            ("Kindling:Pools:1:Name", "big"), ("Kindling:Pools:1:Labels:0", "big"), ("Kindling:Pools:1:Vcpus", "2"), ("Kindling:Pools:1:MemoryMib", "2048"), ("Kindling:Pools:1:Warm", "2"));

        string e = Assert.Single(errors);
        Assert.StartsWith("Kindling:Pools: the warm slots of all pools (Pools:N:Warm) hold 10 vCPUs and 10240 MiB", e, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WarmWithoutWarmStarts_AsksToTurnThemOn()
    {
        string e = Assert.Single(Errors(("Kindling:Pools:0:Warm", "1"), ("Kindling:Launcher:Snapshots", "false")));

        Assert.Contains("warm starts are off (Launcher:Snapshots is false)", e, StringComparison.Ordinal);
    }
}
