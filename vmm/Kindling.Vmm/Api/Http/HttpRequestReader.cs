using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace Kindling.Vmm.Api.Http;

/// <summary>
/// Reads HTTP/1.x requests off one connection of the API socket, as Firecracker's micro_http does: the request
/// target is kept exactly as sent (never percent-decoded, never dot-normalised), bodies come with Content-Length or
/// chunked, and every malformed or oversized request is refused with an <see cref="HttpRequestRefusedException"/>
/// that names the problem (the server answers it with a 4xx and a <c>fault_message</c>, then closes).
/// </summary>
public sealed class HttpRequestReader(PipeReader input, long maxBodyBytes)
{
    /// <summary>Longest request line (method, target, version); a longer one is answered 414.</summary>
    public const int MaxRequestLineBytes = 8 * 1024;

    /// <summary>Largest header section after the request line; a larger one is answered 431.</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    public const int MaxHeaderCount = 100;

    /// <summary>Longest chunk-size line (hex size and extensions).</summary>
    public const int MaxChunkLineBytes = 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Reads the next request. Returns null when the client closed the connection between requests.
    /// <paramref name="sendContinue"/> answers <c>Expect: 100-continue</c> before the body is read.
    /// </summary>
    public async ValueTask<ApiHttpRequest?> ReadAsync(Func<CancellationToken, ValueTask> sendContinue, CancellationToken ct)
    {
        string? head = await ReadHeadAsync(ct);
        if (head is null)
        {
            return null;
        }

        string[] lines = head.Split("\r\n");
        (string method, string target, string version) = ParseRequestLine(lines[0]);
        RequestHeaders headers = ParseHeaders(lines.AsSpan(1));
        bool http11 = version == "HTTP/1.1";
        bool keepAlive = http11 ? !headers.ConnectionHas("close") : headers.ConnectionHas("keep-alive");

        bool chunked = false;
        long length = 0;
        if (headers.TransferEncoding.Count > 0)
        {
            if (headers.ContentLength.Count > 0)
            {
                throw Refused(HttpStatus.BadRequest, "the request has both Transfer-Encoding and Content-Length; send one of them");
            }

            string coding = string.Join(",", headers.TransferEncoding).Trim();
            if (!coding.Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                throw Refused(HttpStatus.BadRequest, $"Transfer-Encoding \"{coding}\" is not supported; send Content-Length or Transfer-Encoding: chunked");
            }

            chunked = true;
        }
        else if (headers.ContentLength.Count > 0)
        {
            length = ParseContentLength(headers.ContentLength);
        }

        if (headers.Expect is { } expect)
        {
            if (!expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
            {
                throw Refused(HttpStatus.ExpectationFailed, $"Expect \"{expect}\" is not supported; only 100-continue is");
            }

            if (chunked || length > 0)
            {
                await sendContinue(ct);
            }
        }

        byte[] body = chunked ? await ReadChunkedAsync(ct) : await ReadExactAsync(length, ct);
        string text;
        try
        {
            text = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException e)
        {
            throw Refused(HttpStatus.BadRequest, $"the request body is not valid UTF-8 (at byte {e.Index}); send UTF-8 JSON");
        }

        return new ApiHttpRequest(method, target, text, keepAlive);
    }

    private static HttpRequestRefusedException Refused(int status, string message) => new(status, message);

    private async ValueTask<string?> ReadHeadAsync(CancellationToken ct)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(ct);
            ReadOnlySequence<byte> buffer = result.Buffer;

            // RFC 9112 2.2: ignore empty lines before the request line.
            long skipped = 0;
            var skipper = new SequenceReader<byte>(buffer);
            while (skipper.IsNext("\r\n"u8, advancePast: true))
            {
                skipped += 2;
            }

            buffer = buffer.Slice(skipped);
            var reader = new SequenceReader<byte>(buffer);
            if (reader.TryReadTo(out ReadOnlySequence<byte> head, "\r\n\r\n"u8, advancePastDelimiter: true))
            {
                CheckHeadSize(head, complete: true);
                string text = Encoding.Latin1.GetString(head);
                input.AdvanceTo(reader.Position);
                return text;
            }

            CheckHeadSize(buffer, complete: false);
            if (result.IsCompleted)
            {
                if (buffer.IsEmpty)
                {
                    input.AdvanceTo(buffer.End);
                    return null;
                }

                throw Refused(HttpStatus.BadRequest, "the connection closed in the middle of the request head");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static void CheckHeadSize(ReadOnlySequence<byte> head, bool complete)
    {
        var reader = new SequenceReader<byte>(head);
        bool haveLine = reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8, advancePastDelimiter: true);
        long lineLength = haveLine ? line.Length : head.Length;
        if (lineLength > MaxRequestLineBytes)
        {
            throw Refused(HttpStatus.UriTooLong, $"the request line is longer than {MaxRequestLineBytes} bytes");
        }

        if ((haveLine || complete) && head.Length - lineLength > MaxHeaderBytes)
        {
            throw Refused(HttpStatus.RequestHeaderFieldsTooLarge, $"the request headers are larger than {MaxHeaderBytes} bytes");
        }
    }

    private static (string Method, string Target, string Version) ParseRequestLine(string line)
    {
        string[] parts = line.Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            throw Refused(HttpStatus.BadRequest, "the request line is not \"METHOD /path HTTP/1.1\"");
        }

        (string method, string target, string version) = (parts[0], parts[1], parts[2]);
        if (!method.All(IsTokenChar))
        {
            throw Refused(HttpStatus.BadRequest, "the request method has characters that are not allowed");
        }

        if (target[0] != '/' || !target.All(c => c is > ' ' and < '\x7f'))
        {
            throw Refused(HttpStatus.BadRequest, "the request target must be a path starting with / of printable ASCII characters");
        }

        if (version is not ("HTTP/1.1" or "HTTP/1.0"))
        {
            throw version.StartsWith("HTTP/", StringComparison.Ordinal)
                ? Refused(HttpStatus.HttpVersionNotSupported, $"{version} is not supported; use HTTP/1.1")
                : Refused(HttpStatus.BadRequest, "the request line does not end with an HTTP version such as HTTP/1.1");
        }

        return (method, target, version);
    }

    private static RequestHeaders ParseHeaders(ReadOnlySpan<string> lines)
    {
        if (lines.Length > MaxHeaderCount)
        {
            throw Refused(HttpStatus.RequestHeaderFieldsTooLarge, $"the request has more than {MaxHeaderCount} headers");
        }

        var headers = new RequestHeaders();
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !line.AsSpan(0, colon).ToString().All(IsTokenChar))
            {
                throw Refused(HttpStatus.BadRequest, "a request header is not \"Name: value\"");
            }

            string name = line[..colon];
            string value = line[(colon + 1)..].Trim(' ', '\t');
            if (value.Any(c => c is < ' ' and not '\t' or '\x7f'))
            {
                throw Refused(HttpStatus.BadRequest, $"the {name} header has control characters");
            }

            switch (name.ToLowerInvariant())
            {
                case "content-length": headers.ContentLength.Add(value); break;
                case "transfer-encoding": headers.TransferEncoding.Add(value); break;
                case "connection": headers.Connection.Add(value); break;
                case "expect":
                    headers.Expect = headers.Expect is null ? value : throw Refused(HttpStatus.BadRequest, "the Expect header appears twice");
                    break;
            }
        }

        return headers;
    }

    private long ParseContentLength(List<string> values)
    {
        long? length = null;
        foreach (string item in values.SelectMany(v => v.Split(',')))
        {
            string text = item.Trim(' ', '\t');
            if (text.Length is 0 or > 19 || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n))
            {
                throw Refused(HttpStatus.BadRequest, $"Content-Length \"{Shorten(text)}\" is not a number of bytes");
            }

            if (length is { } previous && previous != n)
            {
                throw Refused(HttpStatus.BadRequest, "the request has Content-Length headers that disagree");
            }

            length = n;
        }

        if (length > maxBodyBytes)
        {
            throw Refused(HttpStatus.ContentTooLarge, $"the request body is {length} bytes; the limit is {maxBodyBytes} bytes");
        }

        return length ?? 0;
    }

    private async ValueTask<byte[]> ReadExactAsync(long length, CancellationToken ct)
    {
        if (length == 0)
        {
            return [];
        }

        while (true)
        {
            ReadResult result = await input.ReadAsync(ct);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length >= length)
            {
                byte[] body = buffer.Slice(0, length).ToArray();
                input.AdvanceTo(buffer.GetPosition(length));
                return body;
            }

            if (result.IsCompleted)
            {
                throw Refused(HttpStatus.BadRequest, $"the connection closed after {buffer.Length} of the {length} body bytes that Content-Length announced");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async ValueTask<byte[]> ReadChunkedAsync(CancellationToken ct)
    {
        var body = new ArrayBufferWriter<byte>();
        while (true)
        {
            string line = await ReadLineAsync(MaxChunkLineBytes, "chunk size line", ct);
            long size = ParseChunkSize(line, body.WrittenCount);
            if (size == 0)
            {
                await ReadTrailersAsync(ct);
                return body.WrittenSpan.ToArray();
            }

            byte[] chunk = await ReadExactAsync(size, ct);
            body.Write(chunk);
            if (await ReadLineAsync(0, "chunk end", ct) != "")
            {
                throw Refused(HttpStatus.BadRequest, "a chunk is longer than its size says");
            }
        }
    }

    private long ParseChunkSize(string line, long soFar)
    {
        string hex = line.Split(';', 2)[0].Trim(' ', '\t');
        if (hex.Length == 0 || !hex.All(char.IsAsciiHexDigit))
        {
            throw Refused(HttpStatus.BadRequest, $"the chunk size \"{Shorten(hex)}\" is not a hexadecimal number");
        }

        string digits = hex.TrimStart('0');
        if (digits.Length > 15 || soFar + (digits.Length == 0 ? 0 : long.Parse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture)) > maxBodyBytes)
        {
            throw Refused(HttpStatus.ContentTooLarge, $"the chunked request body is larger than the limit of {maxBodyBytes} bytes");
        }

        return digits.Length == 0 ? 0 : long.Parse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private async ValueTask ReadTrailersAsync(CancellationToken ct)
    {
        int total = 0;
        while (true)
        {
            string line = await ReadLineAsync(MaxHeaderBytes, "trailer", ct);
            if (line.Length == 0)
            {
                return;
            }

            total += line.Length + 2;
            if (total > MaxHeaderBytes)
            {
                throw Refused(HttpStatus.RequestHeaderFieldsTooLarge, $"the request trailers are larger than {MaxHeaderBytes} bytes");
            }
        }
    }

    /// <summary>Reads one CRLF-terminated line of at most <paramref name="limit"/> bytes (0: must be empty).</summary>
    private async ValueTask<string> ReadLineAsync(int limit, string what, CancellationToken ct)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(ct);
            ReadOnlySequence<byte> buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            if (reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8, advancePastDelimiter: true))
            {
                if (line.Length > limit)
                {
                    throw Refused(HttpStatus.BadRequest, limit == 0 ? $"expected CRLF at the {what}" : $"the {what} is longer than {limit} bytes");
                }

                string text = Encoding.Latin1.GetString(line);
                input.AdvanceTo(reader.Position);
                return text;
            }

            if (buffer.Length > limit + 1)
            {
                throw Refused(HttpStatus.BadRequest, limit == 0 ? $"expected CRLF at the {what}" : $"the {what} is longer than {limit} bytes");
            }

            if (result.IsCompleted)
            {
                throw Refused(HttpStatus.BadRequest, $"the connection closed in the middle of the {what}");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);

    private static string Shorten(string text) => text.Length <= 32 ? text : text[..32] + "...";

    private sealed class RequestHeaders
    {
        public List<string> ContentLength { get; } = [];

        public List<string> TransferEncoding { get; } = [];

        public List<string> Connection { get; } = [];

        public string? Expect { get; set; }

        public bool ConnectionHas(string option) =>
            Connection.SelectMany(v => v.Split(',')).Any(o => o.Trim().Equals(option, StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>One request off the API socket: the target exactly as sent and the body as text.</summary>
public sealed record ApiHttpRequest(string Method, string Target, string Body, bool KeepAlive);

/// <summary>A request the server refuses before routing it; the status is a 4xx (or 505) and the message is the fault_message.</summary>
public sealed class HttpRequestRefusedException : Exception
{
    public HttpRequestRefusedException(int statusCode, string message) : base(message) => StatusCode = statusCode;

    public HttpRequestRefusedException(string message, Exception innerException) : base(message, innerException) => StatusCode = HttpStatus.BadRequest;

    public HttpRequestRefusedException(string message) : this(HttpStatus.BadRequest, message)
    {
    }

    public HttpRequestRefusedException() : this(HttpStatus.BadRequest, "bad request")
    {
    }

    public int StatusCode { get; }
}
