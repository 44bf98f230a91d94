using Kindling.Runner.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kindling.Runner.Tests.Configuration;

/// <summary>Kindling:Store and Kindling:HostName: a bad value is refused naming the key and the fix.</summary>
public sealed class StoreOptionsValidationTests
{
    private static IReadOnlyList<string> Errors(Func<string, string?> variables, params (string Key, string Value)[] pairs)
    {
        IConfiguration config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Kindling.Testing.RepoPaths.Root, "config", "kindling.json"), optional: false)
            .AddInMemoryCollection(new[] { ("Kindling:StateDirectory", "/tmp/x") }.Concat(pairs).ToDictionary(p => p.Item1, p => (string?)p.Item2))
            .Build();
        var o = new KindlingOptions();
        ConfigurationSchema.Bind(config, o);
        var credentials = new CredentialSources(name => name.StartsWith("KINDLING_DATABASE", StringComparison.Ordinal) ? variables(name) : "value-of-" + name, path => "contents of " + path);
        return new KindlingOptionsValidator(config, credentials).Validate(null, o).Failures?.ToList() ?? [];
    }

    [Fact]
    public void Validate_DefaultStore_SqliteNeedsNoDatabaseVariable()
    {
        Assert.Empty(Errors(_ => null));
    }

    [Fact]
    public void Validate_UnknownKind_NamesKeyAndChoices()
    {
        string e = Assert.Single(Errors(_ => null, ("Kindling:Store:Kind", "mysql")));
        Assert.Equal("Kindling:Store:Kind: is 'mysql'; must be sqlite (this host's own database, the default) or postgres (a fleet sharing one database)", e);
    }

    [Fact]
    public void Validate_PostgresWithoutVariable_NamesVariableAndForm()
    {
        string e = Assert.Single(Errors(_ => null, ("Kindling:Store:Kind", "postgres")));
        Assert.StartsWith("Kindling:Store:ConnectionStringEnv: names KINDLING_DATABASE, which is not set; export it", e, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PostgresWithBadConnectionString_Refused()
    {
        string e = Assert.Single(Errors(_ => "this is not=a;valid connection=string;Pooling=maybe", ("Kindling:Store:Kind", "postgres")));
        Assert.StartsWith("Kindling:Store:ConnectionStringEnv: the value of KINDLING_DATABASE is not a PostgreSQL connection string", e, StringComparison.Ordinal);
        Assert.Empty(Errors(_ => "Host=db;Database=kindling;Username=kindling", ("Kindling:Store:Kind", "postgres")));
    }

    [Theory]
    [InlineData("00:00:00.500")]
    [InlineData("02:00:00")]
    public void Validate_HostLeaseOutOfRange_Refused(string lease)
    {
        string e = Assert.Single(Errors(_ => null, ("Kindling:Store:HostLeaseTimeout", lease)));
        Assert.StartsWith("Kindling:Store:HostLeaseTimeout: is ", e, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HostNameWithSpace_Refused()
    {
        string e = Assert.Single(Errors(_ => null, ("Kindling:HostName", "runner one")));
        Assert.StartsWith("Kindling:HostName: is 'runner one'; use a name without spaces", e, StringComparison.Ordinal);
    }
}
