namespace Kindling.Vmm.Api.Http;

/// <summary>The HTTP status codes the API answers with (RFC 9110 names).</summary>
public static class HttpStatus
{
    public const int Continue = 100;
    public const int Ok = 200;
    public const int NoContent = 204;
    public const int BadRequest = 400;
    public const int NotFound = 404;
    public const int MethodNotAllowed = 405;
    public const int ContentTooLarge = 413;
    public const int UriTooLong = 414;
    public const int ExpectationFailed = 417;
    public const int RequestHeaderFieldsTooLarge = 431;
    public const int InternalServerError = 500;
    public const int ServiceUnavailable = 503;
    public const int HttpVersionNotSupported = 505;

    public static string ReasonPhrase(int statusCode) => statusCode switch
    {
        Continue => "Continue",
        Ok => "OK",
        NoContent => "No Content",
        BadRequest => "Bad Request",
        NotFound => "Not Found",
        MethodNotAllowed => "Method Not Allowed",
        ContentTooLarge => "Content Too Large",
        UriTooLong => "URI Too Long",
        ExpectationFailed => "Expectation Failed",
        RequestHeaderFieldsTooLarge => "Request Header Fields Too Large",
        InternalServerError => "Internal Server Error",
        ServiceUnavailable => "Service Unavailable",
        HttpVersionNotSupported => "HTTP Version Not Supported",
        _ => "Status",
    };
}
