using Kindling.Runner.Configuration;
using Kindling.Runner.Forges.Local;

namespace Kindling.Runner.Forges;

/// <summary>The forge of every configured tenant, by tenant name.</summary>
public sealed class ForgeRegistry(IEnumerable<IForge> forges)
{
    private readonly Dictionary<string, IForge> _byTenant = forges.ToDictionary(f => f.Tenant, StringComparer.Ordinal);

    public IReadOnlyCollection<IForge> All => _byTenant.Values;

    public IForge For(string tenant) =>
        _byTenant.TryGetValue(tenant, out IForge? f) ? f : throw new KeyNotFoundException($"no forge for tenant '{tenant}' (removed from config?)");

    public bool TryGet(string tenant, out IForge forge) => _byTenant.TryGetValue(tenant, out forge!);

    /// <summary>The tenant's forge when it is a local one (which takes jobs submitted in this process).</summary>
    public bool TryGetLocal(string tenant, out LocalForge forge)
    {
        forge = (_byTenant.GetValueOrDefault(tenant) as LocalForge)!;
        return forge is not null;
    }

    /// <summary>The tenant's options and its index in Kindling:Tenants (for messages naming the key).</summary>
    public static (TenantOptions Tenant, int Index) Tenant(KindlingOptions o, string name)
    {
        int i = o.Tenants.FindIndex(t => t.Name == name);
        return i >= 0 ? (o.Tenants[i], i) : throw new KeyNotFoundException($"tenant '{name}' is not in Kindling:Tenants");
    }
}
