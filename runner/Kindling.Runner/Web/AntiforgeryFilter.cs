using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Kindling.Runner.Web;

/// <summary>
/// Every POST from a browser carries the anti-forgery token (form field or <c>X-CSRF-Token</c> header). Requests
/// signed with a bearer token are exempt: a browser never adds one on its own, so they cannot be forged cross-site.
/// </summary>
public sealed class AntiforgeryFilter(IAntiforgery antiforgery) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        HttpContext http = context.HttpContext;
        if (http.User.Identity is { IsAuthenticated: true, AuthenticationType: WebAuth.TokenScheme })
        {
            return await next(context);
        }

        try
        {
            await antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status400BadRequest, title: "anti-forgery check failed",
                detail: "the form's anti-forgery token is missing or stale; reload the page and try again");
        }

        return await next(context);
    }
}
