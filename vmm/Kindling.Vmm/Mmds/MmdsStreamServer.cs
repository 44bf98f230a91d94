namespace Kindling.Vmm.Mmds;

/// <summary>
/// Serves <see cref="MmdsHttpResponder"/> over any byte stream (a TCP or Unix socket): keep-alive HTTP/1.1 with the
/// same bounded parser as the in-VMM stack. For tests and host-side tools that want the MMDS semantics over a real socket.
/// </summary>
public static class MmdsStreamServer
{
    public static async Task ServeAsync(Stream stream, MmdsHttpResponder responder, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MmdsHttpRequestParser.MaxHeaderBytes + MmdsHttpRequestParser.MaxBodyBytes + 4];
        int count = 0;
        while (true)
        {
            HttpParseStatus status = MmdsHttpRequestParser.TryParse(
                buffer.AsSpan(0, count), out MmdsHttpRequest? request, out int consumed, out MmdsHttpResponse? error);
            if (status == HttpParseStatus.Incomplete)
            {
                if (count == buffer.Length)
                {
                    return;
                }

                int n = await stream.ReadAsync(buffer.AsMemory(count), cancellationToken);
                if (n == 0)
                {
                    return;
                }

                count += n;
                continue;
            }

            MmdsHttpResponse response = status == HttpParseStatus.Complete ? responder.Respond(request!) : error!;
            if (request?.Header("Connection") is { } connection && connection.Equals("close", StringComparison.OrdinalIgnoreCase))
            {
                response = response with { Close = true };
            }

            await stream.WriteAsync(response.ToBytes(), cancellationToken);
            if (response.Close)
            {
                return;
            }

            buffer.AsSpan(consumed, count - consumed).CopyTo(buffer);
            count -= consumed;
        }
    }
}
