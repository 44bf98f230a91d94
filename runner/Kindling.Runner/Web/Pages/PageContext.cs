namespace Kindling.Runner.Web.Pages;

/// <summary>What every page needs besides its data: who is looking, the anti-forgery token for its forms, a flash message.</summary>
/// <param name="Csrf">The anti-forgery request token for this user; every POST form carries it.</param>
public sealed record PageContext(string User, string Role, string Csrf, string Path, AdminActionResult? Flash, HostView Host)
{
    public bool IsAdmin => Role == WebAuth.AdminRole;
}
