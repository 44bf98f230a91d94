using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>Sign in with a user name and password, or with the admin (or read-only) token as the password.</summary>
public static class LoginPage
{
    public static Html Render(string csrf, string? returnUrl, string? error) => Layout.Bare("Sign in", H($"""
        <div class="login panel">
          <div class="page-head"><span class="brand"><span class="flame" aria-hidden="true"></span>Kindling</span></div>
          <form method="post" action="/login">
            {Layout.Csrf(csrf)}
            <input type="hidden" name="returnUrl" value="{returnUrl ?? "/"}">
            <label>User <input name="user" autocomplete="username" placeholder="leave empty to use a token"></label>
            <label>Password or token <input name="password" type="password" autocomplete="current-password" required autofocus></label>
            {(error is null ? Empty : H($"<div class=\"error\" role=\"alert\">{error}</div>"))}
            <button type="submit" class="primary">Sign in</button>
          </form>
        </div>
        """));
}
