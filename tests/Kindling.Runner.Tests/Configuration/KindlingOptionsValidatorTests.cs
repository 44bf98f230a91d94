using Kindling.Runner.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Tests.Configuration;

public sealed class KindlingOptionsValidatorTests
{
    private static KindlingOptions Bind(params (string Key, string Value)[] pairs)
    {
        IConfiguration config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Kindling.Testing.RepoPaths.Root, "config", "kindling.json"), optional: false)
            .AddInMemoryCollection(pairs.ToDictionary(p => p.Key, p => (string?)p.Value))
            .Build();
        var o = new KindlingOptions();
        config.GetSection(KindlingOptions.Section).Bind(o);
        return o;
    }

    private static IReadOnlyList<string> Errors(KindlingOptions o) =>
        new KindlingOptionsValidator().Validate(null, o).Failures?.ToList() ?? [];

    [Fact]
    public void Validate_ShippedConfig_Valid()
    {
        KindlingOptions o = Bind(("Kindling:StateDirectory", "/tmp/x"));
        Assert.Empty(Errors(o));
        Assert.Equal("https://api.github.com", o.Forge.GitHub.BaseUrl);
        Assert.NotEmpty(o.Tenants);
    }

    [Theory]
    [InlineData("Kindling:Host:Oversubscription", "0.5", "Kindling:Host:Oversubscription: is 0.5")]
    [InlineData("Kindling:Tenants:0:Quota:MaxVms", "0", "Kindling:Tenants:0:Quota:MaxVms: is 0; must be at least 1")]
    [InlineData("Kindling:Tenants:0:Weight", "-1", "Kindling:Tenants:0:Weight: is -1")]
    [InlineData("Kindling:Forge:GitHub:BaseUrl", "api.github.com", "Kindling:Forge:GitHub:BaseUrl: 'api.github.com' is not an http(s) URL")]
    [InlineData("Kindling:Forge:GitHub:MaxPages", "0", "Kindling:Forge:GitHub:MaxPages: is 0; must be at least 1")]
    [InlineData("Kindling:Forge:GitHub:InProgressRunWindow", "-01:00:00", "Kindling:Forge:GitHub:InProgressRunWindow: is -01:00:00; must not be negative")]
    [InlineData("Kindling:Forge:GitHub:WebhookMaxBodyBytes", "1000", "Kindling:Forge:GitHub:WebhookMaxBodyBytes: is 1000; must be at least 65536")]
    [InlineData("Kindling:Launcher:Kind", "qemu", "Kindling:Launcher:Kind: 'qemu' is unknown")]
    [InlineData("Kindling:Tenants:0:Forge:Repositories:0", "noslash", "Kindling:Tenants:0:Forge:Repositories:0: 'noslash' is not owner/repo")]
    [InlineData("Kindling:Tenants:1:Name", "acme", "Kindling:Tenants:1:Name: 'acme' is used by two tenants")]
    [InlineData("Kindling:Web:Url", "ftp://x", "Kindling:Web:Url: 'ftp://x' is not an http URL")]
    [InlineData("Kindling:Web:LoginFailuresBeforeLockout", "-1", "Kindling:Web:LoginFailuresBeforeLockout: is -1; must be 0 (no lockout) or more")]
    [InlineData("Kindling:Web:LoginLockout", "00:00:00", "Kindling:Web:LoginLockout: is 00:00:00; must be positive")]
    public void Validate_BadValue_MessageNamesKey(string key, string value, string expected)
    {
        IReadOnlyList<string> errors = Errors(Bind(("Kindling:StateDirectory", "/tmp/x"), (key, value)));
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_PatAndApp_Refused()
    {
        KindlingOptions o = Bind(("Kindling:StateDirectory", "/tmp/x"), ("Kindling:Tenants:0:Credentials:AppId", "5"));
        Assert.Contains(Errors(o), e => e.StartsWith("Kindling:Tenants:0:Credentials: give either a PAT", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SecretWithTwoSources_Refused()
    {
        KindlingOptions o = Bind(("Kindling:StateDirectory", "/tmp/x"),
            ("Kindling:Tenants:0:Secrets:TWO:Env", "A"), ("Kindling:Tenants:0:Secrets:TWO:Value", "b"));
        Assert.Contains("Kindling:Tenants:0:Secrets:TWO: needs exactly one of File, Env, Value", Errors(o));
    }

    [Fact]
    public void ValidateOnStart_BadConfig_HostStartFailsNamingKey()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        IConfiguration config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Kindling:Host:Vcpus"] = "0" }).Build();
        Kindling.Runner.Configuration.KindlingServices.AddKindlingOptions(services, config);
        using var sp = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var e = Assert.Throws<OptionsValidationException>(() => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IOptions<KindlingOptions>>(sp).Value);
        Assert.Contains("Kindling:Host:Vcpus: is 0; must be at least 1", e.Message);
    }
}
