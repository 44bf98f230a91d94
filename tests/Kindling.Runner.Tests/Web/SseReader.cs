using System.Net.ServerSentEvents;

namespace Kindling.Runner.Tests.Web;

/// <summary>Reads a server-sent event stream the way a browser's EventSource does (System.Net.ServerSentEvents' parser).</summary>
internal static class SseReader
{
    public static async Task<List<SseItem<string>>> ReadUntilEndAsync(HttpClient c, string url, string? lastEventId = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using HttpResponseMessage r = await c.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        r.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType?.MediaType);
        await using Stream s = await r.Content.ReadAsStreamAsync(ct);
        List<SseItem<string>> items = [];
        await foreach (SseItem<string> item in SseParser.Create(s).EnumerateAsync(ct))
        {
            items.Add(item);
            if (item.EventType == "end")
            {
                break;
            }
        }

        return items;
    }

    /// <summary>The log lines of a stream's <c>log</c> events, in order.</summary>
    public static List<string> Lines(IEnumerable<SseItem<string>> items) =>
        [.. items.Where(i => i.EventType == "log").SelectMany(i => i.Data.Split('\n'))];
}
