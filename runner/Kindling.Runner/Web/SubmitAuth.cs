using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;

namespace Kindling.Runner.Web;

/// <summary>
/// Who may submit jobs (<c>POST /api/jobs</c>): an admin, or a tenant token for its own tenant. A tenant token may
/// also read its own tenant's jobs and logs (what <c>kindling submit --wait</c> follows) and nothing else: it has no
/// role of <see cref="WebAuth.Roles"/>, so every other page and API answers it 403.
/// </summary>
public static class SubmitAuth
{
    public const string TenantRole = "tenant";
    public const string TenantClaim = "kindling:tenant";

    /// <summary>Admins and tenant tokens.</summary>
    public const string SubmitPolicy = "submit";

    /// <summary>Any signed-in user, and tenant tokens (for their own jobs: <see cref="TenantJobFilter"/>).</summary>
    public const string JobReaderPolicy = "job-reader";

    public static AuthorizationBuilder AddSubmitPolicies(this AuthorizationBuilder b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return b.AddPolicy(SubmitPolicy, p => p.RequireAuthenticatedUser().RequireRole(WebAuth.AdminRole, TenantRole))
            .AddPolicy(JobReaderPolicy, p => p.RequireAuthenticatedUser().RequireRole([.. WebAuth.Roles, TenantRole]));
    }

    public static ClaimsPrincipal Principal(string tenant) =>
        new(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, $"tenant {tenant} token"), new Claim(ClaimTypes.Role, TenantRole), new Claim(TenantClaim, tenant)],
            WebAuth.TokenScheme, ClaimTypes.Name, ClaimTypes.Role));

    /// <summary>The tenant a tenant token stands for; null for everyone else (admins, read-only users).</summary>
    public static string? TenantOf(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.IsInRole(TenantRole) ? user.FindFirst(TenantClaim)?.Value : null;
    }
}
