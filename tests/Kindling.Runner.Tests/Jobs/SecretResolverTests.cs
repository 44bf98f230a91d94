using Kindling.Runner.Jobs;

namespace Kindling.Runner.Tests.Jobs;

public sealed class SecretResolverTests
{
    private static readonly Dictionary<string, string> Tenant = new() { ["TOKEN"] = "t", ["OTHER"] = "o" };

    [Fact]
    public void Derive_NoRecipes_TenantSecretsAsIs() => Assert.Same(Tenant, SecretResolver.Derive(Tenant, null, "acme", 0));

    [Fact]
    public void Derive_Recipes_AddedBesideTenantSecrets()
    {
        var refs = new Dictionary<string, IReadOnlyList<SecretPart>>
        {
            ["AUTH"] = [SecretPart.FromText("Bearer "), SecretPart.FromSecret("TOKEN")],
            ["TOKEN"] = [SecretPart.FromSecret("TOKEN")],
        };
        var s = SecretResolver.Derive(Tenant, refs, "acme", 0);
        Assert.Equal("Bearer t", s["AUTH"]);
        Assert.Equal("t", s["TOKEN"]);
        Assert.Equal("o", s["OTHER"]);
    }

    [Fact]
    public void Derive_MissingSecret_NamesItAndTheKey() =>
        Assert.Equal("the job reads secret(s) A, B, which tenant acme does not have; add them under Kindling:Tenants:3:Secrets",
            Assert.Throws<SecretUnavailableException>(() => SecretResolver.Derive(Tenant,
                new Dictionary<string, IReadOnlyList<SecretPart>> { ["X"] = [SecretPart.FromSecret("B"), SecretPart.FromSecret("A")] }, "acme", 3)).Message);
}
