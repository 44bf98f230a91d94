using System.Globalization;
using System.Text;

namespace Kindling.Vmm.Mmds;

/// <summary>Outcome of <see cref="MmdsHttpRequestParser.TryParse"/>.</summary>
public enum HttpParseStatus
{
    /// <summary>More bytes are needed.</summary>
    Incomplete,

    /// <summary>A request was parsed; <c>consumed</c> bytes belong to it.</summary>
    Complete,

    /// <summary>The bytes are not an acceptable request; answer the error response and close.</summary>
    Invalid,
}

/// <summary>Bounded HTTP/1.x request parsing (guest input is hostile): request line, headers, Content-Length body.</summary>
public static class MmdsHttpRequestParser
{
    public const int MaxHeaderBytes = 4096;
    public const int MaxBodyBytes = 4096;
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();

    public static HttpParseStatus TryParse(ReadOnlySpan<byte> buffer, out MmdsHttpRequest? request, out int consumed, out MmdsHttpResponse? error)
    {
        request = null;
        error = null;
        consumed = 0;
        int end = buffer.IndexOf(HeaderEnd);
        if (end < 0)
        {
            return buffer.Length > MaxHeaderBytes ? Fail(431, "Request headers too large.", out error) : HttpParseStatus.Incomplete;
        }

        if (end > MaxHeaderBytes)
        {
            return Fail(431, "Request headers too large.", out error);
        }

        string head = Encoding.ASCII.GetString(buffer[..end]);
        string[] lines = head.Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || requestLine[0].Length == 0 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return Fail(400, "Invalid request line.", out error);
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < lines.Length; i++)
        {
            int colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return Fail(400, "Invalid header.", out error);
            }

            headers[lines[i][..colon].Trim()] = lines[i][(colon + 1)..].Trim();
        }

        if (headers.ContainsKey("Transfer-Encoding"))
        {
            return Fail(400, "Transfer-Encoding is not supported; send Content-Length.", out error);
        }

        int bodyLength = 0;
        if (headers.TryGetValue("Content-Length", out string? cl)
            && (!int.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out bodyLength) || bodyLength > MaxBodyBytes))
        {
            return Fail(413, "Invalid or too large Content-Length.", out error);
        }

        int total = end + HeaderEnd.Length + bodyLength;
        if (buffer.Length < total)
        {
            return HttpParseStatus.Incomplete;
        }

        if (requestLine[2] == "HTTP/1.0" && !headers.ContainsKey("Connection"))
        {
            headers["Connection"] = "close";
        }

        request = new MmdsHttpRequest(requestLine[0], requestLine[1], headers, buffer[(end + HeaderEnd.Length)..total].ToArray());
        consumed = total;
        return HttpParseStatus.Complete;
    }

    private static HttpParseStatus Fail(int status, string message, out MmdsHttpResponse? error)
    {
        error = new MmdsHttpResponse(status, MmdsHttpResponse.TextPlain, message) { Close = true };
        return HttpParseStatus.Invalid;
    }
}
