using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Api.Http;

/// <summary>One answer on the API socket: 204, 200 with JSON, or an error status with <c>{"fault_message": ...}</c>.</summary>
public sealed record ApiHttpResponse(int StatusCode, string? JsonBody, bool Close = false, string? Allow = null)
{
    public static ApiHttpResponse NoContent { get; } = new(HttpStatus.NoContent, null);

    public static ApiHttpResponse Json(string body) => new(HttpStatus.Ok, body);

    /// <summary>An error answer; lone surrogates in <paramref name="message"/> (echoed client text) become U+FFFD.</summary>
    public static ApiHttpResponse Fault(int statusCode, string message, bool close = false) => new(statusCode, FaultJson(message), close);

    /// <summary>
    /// <c>{"fault_message": ...}</c> with only the escapes JSON requires (as Firecracker writes it), so that quotes,
    /// <c>&lt;</c>, <c>&amp;</c> and non-ASCII in a message read as they are (this body never goes into HTML).
    /// </summary>
    public static string FaultJson(string message)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("fault_message", Utf16Text.Sanitize(message));
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The bytes on the wire; a HEAD request gets the headers only (RFC 9110 9.3.2).</summary>
    public byte[] Format(bool headRequest)
    {
        byte[] body = JsonBody is null ? [] : Encoding.UTF8.GetBytes(JsonBody);
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {StatusCode} {HttpStatus.ReasonPhrase(StatusCode)}\r\n");
        if (StatusCode != HttpStatus.NoContent)
        {
            if (JsonBody is not null)
            {
                head.Append("Content-Type: application/json\r\n");
            }

            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        }

        if (Allow is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Allow: {Allow}\r\n");
        }

        if (Close)
        {
            head.Append("Connection: close\r\n");
        }

        head.Append("\r\n");
        byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());
        return headRequest ? headBytes : [.. headBytes, .. body];
    }

    /// <summary>The interim answer to <c>Expect: 100-continue</c>.</summary>
    public static ReadOnlyMemory<byte> Continue { get; } = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();
}
