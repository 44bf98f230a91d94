using Kindling.Runner.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Tests.Configuration;

public sealed class KindlingOptionsValidatorTests
{
    /// <summary>Every variable and file the shipped config names, as a host that is set up has them.</summary>
    private static readonly CredentialSources SetUp = new(
        name => name.StartsWith("KINDLING__", StringComparison.Ordinal) ? null : "value-of-" + name, path => "contents of " + path);

    /// <summary>A bare host: no variable is set, no file exists.</summary>
    private static readonly CredentialSources Bare = new(_ => null, path => throw new FileNotFoundException($"Could not find file '{path}'."));

    private static IConfiguration Config(params (string Key, string Value)[] pairs) =>
        new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Kindling.Testing.RepoPaths.Root, "config", "kindling.json"), optional: false)
            .AddInMemoryCollection(pairs.ToDictionary(p => p.Key, p => (string?)p.Value))
            .Build();

    private static KindlingOptions Bind(params (string Key, string Value)[] pairs)
    {
        var o = new KindlingOptions();
        ConfigurationSchema.Bind(Config(pairs), o);
        return o;
    }

    private static IReadOnlyList<string> Errors(KindlingOptions o) =>
        new KindlingOptionsValidator(credentials: SetUp).Validate(null, o).Failures?.ToList() ?? [];

    /// <summary>The validator as the daemon runs it: with the configuration (unknown keys, bad values) and credentials.</summary>
    private static IReadOnlyList<string> Errors(CredentialSources credentials, params (string Key, string Value)[] pairs)
    {
        IConfiguration config = Config([("Kindling:StateDirectory", "/tmp/x"), .. pairs]);
        var o = new KindlingOptions();
        ConfigurationSchema.Bind(config, o);
        return new KindlingOptionsValidator(config, credentials).Validate(null, o).Failures?.ToList() ?? [];
    }

    [Fact]
    public void Validate_ShippedConfig_Valid()
    {
        KindlingOptions o = Bind(("Kindling:StateDirectory", "/tmp/x"));
        Assert.Empty(Errors(o));
        Assert.Equal("https://api.github.com", o.Forge.GitHub.BaseUrl);
        Assert.NotEmpty(o.Tenants);
    }

    [Fact]
    public void Bind_ShippedConfig_GitHubTenantsBootTheGithubImageOfThePinnedRelease()
    {
        KindlingOptions o = Bind(("Kindling:StateDirectory", "/tmp/x"));

        Assert.Equal(Kindling.Images.Rootfs.Flavour.Github, o.Images.BaseFlavour(o.Tenants));
        Assert.Empty(o.Images.ActionsRunner.ToSource().Problems());
        Assert.Matches(@"^2\.\d+\.\d+$", o.Images.ActionsRunner.Version);
    }

    [Theory]
    [InlineData("auto", "local", "Minimal")]
    [InlineData("auto", "github", "Github")]
    [InlineData("debian", "github", "Debian")]
    [InlineData("GitHub", "local", "Github")]
    public void BaseFlavour_SettingAndTenants_TheImageJobsBoot(string setting, string forge, string expected)
    {
        var images = new ImagesOptions { Flavour = setting };

        Kindling.Images.Rootfs.Flavour flavour = images.BaseFlavour([new TenantOptions { Name = "t", Forge = new TenantForgeOptions { Kind = forge } }]);

        Assert.Equal(expected, flavour.ToString());
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
    [InlineData("Kindling:Launcher:SnapshotBootTimeout", "00:00:00", "Kindling:Launcher:SnapshotBootTimeout: '00:00:00' must be positive")]
    [InlineData("Kindling:Launcher:BootTimeout", "00:00:00", "Kindling:Launcher:BootTimeout: '00:00:00' must be positive")]
    [InlineData("Kindling:Tenants:0:Forge:Repositories:0", "noslash", "Kindling:Tenants:0:Forge:Repositories:0: 'noslash' is not owner/repo")]
    [InlineData("Kindling:Tenants:1:Name", "acme", "Kindling:Tenants:1:Name: 'acme' is used by two tenants")]
    [InlineData("Kindling:Web:Url", "ftp://x", "Kindling:Web:Url: 'ftp://x' is not an http URL")]
    [InlineData("Kindling:Web:LoginFailuresBeforeLockout", "-1", "Kindling:Web:LoginFailuresBeforeLockout: is -1; must be 0 (no lockout) or more")]
    [InlineData("Kindling:Web:LoginLockout", "00:00:00", "Kindling:Web:LoginLockout: is 00:00:00; must be positive")]
    [InlineData("Kindling:Pools:0:Vcpus", "33", "Kindling:Pools:0:Vcpus: is 33; must be 1..32")]
    [InlineData("Kindling:Images:ActionsRunner:Sha256", "", "Kindling:Images:ActionsRunner:Sha256: is empty; set the SHA-256")]
    [InlineData("Kindling:Images:ActionsRunner:Sha256", "abc", "Kindling:Images:ActionsRunner:Sha256: 'abc' is not a SHA-256")]
    [InlineData("Kindling:Images:ActionsRunner:Version", "", "Kindling:Images:ActionsRunner:Version: is empty; set the actions/runner release")]
    [InlineData("Kindling:Images:ActionsRunner:Version", "v2.338.0", "Kindling:Images:ActionsRunner:Version: 'v2.338.0' is not a release version")]
    [InlineData("Kindling:Images:Flavour", "ubuntu", "Kindling:Images:Flavour: 'ubuntu' is unknown; use auto")]
    [InlineData("Kindling:Images:ActionsRunner:File", "/nonexistent/runner.tar.gz", "Kindling:Images:ActionsRunner:File: '/nonexistent/runner.tar.gz' does not exist")]
    [InlineData("Kindling:Images:ActionsRunner:Url", "ftp://mirror/{Version}.tgz", "Kindling:Images:ActionsRunner:Url: 'ftp://mirror/{Version}.tgz' is not an http(s) address")]
    [InlineData("Kindling:Tenants:0:SubmitToken", "short", "Kindling:Tenants:0:SubmitToken: is 5 characters; use at least 16")]
    [InlineData("Kindling:StepStopGrace", "00:00:00", "Kindling:StepStopGrace: is 00:00:00; must be from 00:00:00.1000000 to 00:05:00")]
    [InlineData("Kindling:StepStopGrace", "01:00:00", "Kindling:StepStopGrace: is 01:00:00; must be from")]
    public void Validate_BadValue_MessageNamesKey(string key, string value, string expected)
    {
        IReadOnlyList<string> errors = Errors(Bind(("Kindling:StateDirectory", "/tmp/x"), (key, value)));
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ActionsRunnerComplete_NoProblemAndSourceCarriesIt()
    {
        string sha = new('c', 64);
        KindlingOptions o = Bind(("Kindling:StateDirectory", "/tmp/x"),
            ("Kindling:Images:ActionsRunner:Version", "2.321.0"), ("Kindling:Images:ActionsRunner:Sha256", sha));

        Assert.Empty(Errors(o));
        Kindling.Images.ActionsRunner.ActionsRunnerSource source = o.Images.ActionsRunner.ToSource();
        Assert.Equal(new Uri("https://github.com/actions/runner/releases/download/v2.321.0/actions-runner-linux-x64-2.321.0.tar.gz"), source.DownloadUri);
        Assert.Equal(sha, source.Sha256);
        Assert.Null(source.File);
    }

    [Fact]
    public void Validate_TwoTenantsOneSubmitToken_RefusedNamingBoth()
    {
        const string token = "same-submit-token-0123456789abcdef";
        IReadOnlyList<string> errors = Errors(Bind(("Kindling:StateDirectory", "/tmp/x"), ("Kindling:Tenants:0:SubmitToken", token), ("Kindling:Tenants:1:SubmitToken", token)));
        Assert.Contains("Kindling:Tenants:1:SubmitToken: is the same as Kindling:Tenants:0:SubmitToken; give each tenant a token of its own", errors);
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
    public void Validate_ShippedConfigOnSetUpHost_NoProblems()
    {
        Assert.Empty(Errors(SetUp));
    }

    [Fact]
    public void Validate_ShippedConfigOnBareHost_ListsEveryMissingCredential()
    {
        Assert.Equal(
        [
            "Kindling:Tenants:0:Credentials:TokenEnv: environment variable KINDLING_ACME_TOKEN is not set; export the tenant's GitHub token there (or use Token or TokenFile)",
            "Kindling:Tenants:0:Secrets:NPM_TOKEN:Env: environment variable ACME_NPM_TOKEN is not set; export the secret's value there",
            "Kindling:Tenants:1:Credentials:TokenEnv: environment variable KINDLING_INITECH_TOKEN is not set; export the tenant's GitHub token there (or use Token or TokenFile)",
            "Kindling:Tenants:1:Secrets:DEPLOY_KEY:File: cannot read /etc/kindling/secrets/initech-deploy-key (Could not find file '/etc/kindling/secrets/initech-deploy-key'.); put the secret's value there",
        ], Errors(Bare));
    }

    [Theory]
    [InlineData("Kindling:Host:Vcpu", "3", "Kindling:Host:Vcpu: unknown key; did you mean Kindling:Host:Vcpus? (Kindling:Host takes Vcpus, MemoryMib, Oversubscription)")]
    [InlineData("Kindling:Host:MaxVm", "3", "Kindling:Host:MaxVm: unknown key; the nearest key is Kindling:Tenants:N:Quota:MaxVms (Kindling:Host takes Vcpus, MemoryMib, Oversubscription)")]
    [InlineData("Kindling:Tenants:0:Qouta:MaxVms", "3", "Kindling:Tenants:0:Qouta: unknown key; did you mean Kindling:Tenants:0:Quota?")]
    [InlineData("Kindling:Tenants:0:Secrets:NPM_TOKEN:Envv", "X", "Kindling:Tenants:0:Secrets:NPM_TOKEN:Envv: unknown key; did you mean Kindling:Tenants:0:Secrets:NPM_TOKEN:Env?")]
    [InlineData("Kindling:Launcher:Jail:Uidd", "5", "Kindling:Launcher:Jail:Uidd: unknown key; did you mean Kindling:Launcher:Jail:Uid?")]
    [InlineData("Kindling:Pools:first:Name", "x", "Kindling:Pools:first: Pools is a list; write it as a JSON array [ ... ]")]
    [InlineData("Kindling:Host:Vcpus", "three", "Kindling:Host:Vcpus: 'three' is not a whole number")]
    [InlineData("Kindling:Launcher:Network", "yes", "Kindling:Launcher:Network: 'yes' is not true or false")]
    [InlineData("Kindling:PollInterval", "10s", "Kindling:PollInterval: '10s' is not a duration such as 00:00:10 (hh:mm:ss)")]
    [InlineData("Kindling:Images:ActionsRunner:Sha265", "x", "Kindling:Images:ActionsRunner:Sha265: unknown key; did you mean Kindling:Images:ActionsRunner:Sha256?")]
    [InlineData("Kindling:Images:ActionRunner:Version", "2.321.0", "Kindling:Images:ActionRunner: unknown key; did you mean Kindling:Images:ActionsRunner?")]
    [InlineData("Kindling:Host:Vcpus:Max", "3", "Kindling:Host:Vcpus: is an object or a list; it takes one value, a whole number")]
    public void Validate_UnknownKeyOrBadValue_RefusedNamingIt(string key, string value, string expected)
    {
        IReadOnlyList<string> errors = Errors(SetUp, (key, value));
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ghes-pat-tenant.example.json")]
    [InlineData("github-app-tenant.example.json")]
    public void Check_ExampleTenantFile_OnlyKnownKeysAndValues(string file)
    {
        IConfiguration config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Kindling.Testing.RepoPaths.Root, "config", "tenants", file), optional: false).Build();
        Assert.Empty(ConfigurationSchema.Check(config, _ => null));
    }

    [Fact]
    public void Validate_UnknownKeyFromEnvironment_NamesTheVariable()
    {
        var env = new CredentialSources(name => name == "KINDLING__Host__MaxVm" ? "3" : "value-of-" + name, path => "x");
        IReadOnlyList<string> errors = Errors(env, ("Kindling:Host:MaxVm", "3"));
        Assert.Contains(errors, e => e.StartsWith("Kindling:Host:MaxVm: unknown key (set by the environment variable KINDLING__Host__MaxVm)", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SeveralProblems_AllListedOneLineEach()
    {
        IReadOnlyList<string> errors = Errors(Bare, ("Kindling:Host:Vcpu", "3"), ("Kindling:Host:MemoryMib", "lots"), ("Kindling:Tenants:0:Quota:MaxVms", "0"));
        Assert.Contains(errors, e => e.StartsWith("Kindling:Host:Vcpu: unknown key", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Kindling:Host:MemoryMib: 'lots' is not a whole number", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Kindling:Tenants:0:Quota:MaxVms: is 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Kindling:Tenants:0:Credentials:TokenEnv:", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));
    }

    [Fact]
    public void Bind_BadValue_OtherValuesStillBound()
    {
        KindlingOptions o = new();
        ConfigurationSchema.Bind(Config(("Kindling:Host:Vcpus", "three")), o);
        Assert.Equal(16384, o.Host.MemoryMib);
        Assert.Equal(2, o.Tenants.Count);
    }

    [Theory]
    [InlineData("", "TokenFile", "is empty")]
    [InlineData(null, "TokenFile", "cannot read")]
    public void Validate_TokenFileEmptyOrMissing_NamesKey(string? contents, string key, string expected)
    {
        string file = Path.Combine(Path.GetTempPath(), "kindling-token-" + Guid.NewGuid().ToString("N"));
        if (contents is not null) File.WriteAllText(file, contents);
        try
        {
            IReadOnlyList<string> errors = Errors(CredentialSources.System,
                ("Kindling:Tenants:0:Credentials:TokenEnv", ""), ("Kindling:Tenants:0:Credentials:TokenFile", file));
            Assert.Contains(errors, e => e.StartsWith($"Kindling:Tenants:0:Credentials:{key}: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Validate_AppKeyNotPem_NamesKey()
    {
        var sources = new CredentialSources(_ => "x", _ => "not a key");
        IReadOnlyList<string> errors = Errors(sources, ("Kindling:Tenants:0:Credentials:TokenEnv", ""),
            ("Kindling:Tenants:0:Credentials:AppId", "1"), ("Kindling:Tenants:0:Credentials:InstallationId", "2"), ("Kindling:Tenants:0:Credentials:PrivateKeyPath", "/k.pem"));
        Assert.Contains(errors, e => e.StartsWith("Kindling:Tenants:0:Credentials:PrivateKeyPath: '/k.pem' is not a PEM RSA private key", StringComparison.Ordinal));
    }

    [Fact]
    public void ValidateOnStart_BadConfig_HostStartFailsNamingKey()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        IConfiguration config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Kindling:Host:Vcpus"] = "0", ["Kindling:Host:MemoryMib"] = "many" }).Build();
        Kindling.Runner.Configuration.KindlingServices.AddKindlingOptions(services, config);
        using var sp = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var e = Assert.Throws<OptionsValidationException>(() => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IOptions<KindlingOptions>>(sp).Value);
        Assert.Contains("Kindling:Host:Vcpus: is 0; must be at least 1", e.Message);
        Assert.Contains("Kindling:Host:MemoryMib: 'many' is not a whole number", e.Message);
    }
}
