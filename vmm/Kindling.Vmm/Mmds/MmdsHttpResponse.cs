using System.Text;

namespace Kindling.Vmm.Mmds;

/// <summary>An HTTP/1.1 response from the metadata service.</summary>
public sealed record MmdsHttpResponse(int StatusCode, string ContentType, string Body)
{
    public const string TextPlain = "text/plain";
    public const string ApplicationJson = "application/json";

    /// <summary>Extra headers (e.g. <c>Allow</c> on a 405).</summary>
    public IReadOnlyList<(string Name, string Value)> ExtraHeaders { get; init; } = [];

    /// <summary>True when the connection is closed after this response.</summary>
    public bool Close { get; init; }

    public string ReasonPhrase => StatusCode switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };

    /// <summary>The response on the wire: status line, headers, CRLF, body.</summary>
    public byte[] ToBytes()
    {
        byte[] body = Encoding.UTF8.GetBytes(Body);
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(StatusCode).Append(' ').Append(ReasonPhrase).Append("\r\n");
        head.Append("Server: Kindling MMDS\r\n");
        head.Append("Content-Type: ").Append(ContentType).Append("\r\n");
        head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        foreach ((string name, string value) in ExtraHeaders)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (Close)
        {
            head.Append("Connection: close\r\n");
        }

        head.Append("\r\n");
        byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());
        return [.. headBytes, .. body];
    }
}
