using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Scheduling;

namespace Kindling.Runner.Cli;

/// <summary>A job's end as the daemon's log stream reported it.</summary>
public sealed record FollowedJob(JobState Result, int? ExitCode);

/// <summary>
/// <c>kindling submit</c>'s side of the daemon's API: <c>POST /api/jobs</c> and the job's log stream. Every failure
/// becomes a <see cref="ReplayException"/> that says what happened and what to do (start the daemon, pass a token,
/// fix the field the daemon named).
/// </summary>
public sealed class DaemonClient(HttpClient http, Uri server, bool hasToken)
{
    /// <summary>How long one request may take before the daemon counts as not answering (the log stream has no limit).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Attempts at a request that failed in transit (the idempotency key makes a repeated POST safe).</summary>
    public const int Attempts = 3;

    private const string Stream = "text/event-stream";

    public Uri Server => server;

    public async Task<SubmitResponse> SubmitAsync(SubmitRequest request, string idempotencyKey, CancellationToken ct)
    {
        string body = JsonSerializer.Serialize(request, SubmitJson.Default.SubmitRequest);
        for (int attempt = 1; ; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "api/jobs"))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            message.Headers.Add(JobSubmissions.IdempotencyKeyHeader, idempotencyKey);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(RequestTimeout);
            HttpResponseMessage r;
            try
            {
                r = await http.SendAsync(message, timeout.Token);
            }
            catch (Exception e) when (Transient(e, ct) && attempt < Attempts && !Refused(e))
            {
                continue;
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                throw Unreachable(e);
            }

            using (r)
            {
                string text = await r.Content.ReadAsStringAsync(ct);
                if (r.IsSuccessStatusCode)
                {
                    return JsonSerializer.Deserialize(text, SubmitReplyJson.Default.SubmitResponse)
                           ?? throw new ReplayException($"the daemon at {server} answered {(int)r.StatusCode} without a job");
                }

                throw Refusal(r.StatusCode, text, "POST /api/jobs");
            }
        }
    }

    /// <summary>
    /// Follows the job's log stream to its end: <paramref name="log"/> gets the output, <paramref name="state"/> each
    /// state change. Reconnects where it left off when the connection drops.
    /// </summary>
    public async Task<FollowedJob> FollowAsync(long jobId, Action<string> log, Action<string> state, CancellationToken ct)
    {
        string? lastEventId = null;
        FollowedJob? last = null;
        for (int attempt = 1; ; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(server, $"api/jobs/{jobId}/log/stream"));
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(Stream));
            if (lastEventId is not null)
            {
                message.Headers.Add("Last-Event-ID", lastEventId);
            }

            try
            {
                using HttpResponseMessage r = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct);
                if (!r.IsSuccessStatusCode)
                {
                    throw Refusal(r.StatusCode, await r.Content.ReadAsStringAsync(ct), $"the log of job {jobId}");
                }

                await using Stream s = await r.Content.ReadAsStreamAsync(ct);
                await foreach (SseItem<string> item in SseParser.Create(s).EnumerateAsync(ct))
                {
                    switch (item.EventType)
                    {
                        case "log":
                            lastEventId = item.EventId ?? lastEventId;
                            log(item.Data);
                            break;
                        case "state":
                            Web.StateEventData? d = JsonSerializer.Deserialize(item.Data, FollowJson.Default.StateEventData);
                            if (d is not null)
                            {
                                last = new FollowedJob(JobLifecycle.Parse(d.Result), d.ExitCode);
                                state(d.Result);
                            }

                            break;
                        case "end":
                            return last ?? throw new ReplayException($"the daemon ended the log of job {jobId} without its state");
                    }
                }

                if (attempt >= Attempts)
                {
                    throw new ReplayException($"the daemon at {server} closed the log of job {jobId} before the job ended ({Attempts} times); see {new Uri(server, $"jobs/{jobId}")}");
                }
            }
            catch (Exception e) when (Transient(e, ct) && attempt < Attempts)
            {
                // the connection dropped: resume after the last line seen
            }
            catch (Exception e) when (Transient(e, ct))
            {
                throw Unreachable(e);
            }
        }
    }

    private static bool Transient(Exception e, CancellationToken ct) => e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested);

    /// <summary>Nobody listens there (or the name does not resolve): trying again will not help.</summary>
    private static bool Refused(Exception e) =>
        e is HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostNotFound or SocketError.NoData } };

    private ReplayException Unreachable(Exception e)
    {
        string why = e is OperationCanceledException ? $"no answer within {RequestTimeout.TotalSeconds:0} s"
            : e.InnerException is SocketException se ? se.Message : e.Message;
        return new ReplayException(
            $"cannot reach the daemon at {server} ({why}); start it with `kindling daemon --config FILE` (or `systemctl start kindling`), " +
            "or pass --server with the URL it listens on (its Kindling:Web:Url)");
    }

    private ReplayException Refusal(HttpStatusCode status, string body, string what)
    {
        string? fault = Fault(body);
        int code = (int)status;
        return status switch
        {
            HttpStatusCode.Unauthorized => new ReplayException(hasToken
                ? $"the daemon at {server} did not accept the token (401): pass --token with an environment variable or file holding the admin token or the tenant's submit token (Kindling:Tenants:N:SubmitToken)"
                : $"the daemon at {server} needs a token (401) and none was found: pass --token ENV_OR_FILE, or set $KINDLING_TOKEN"),
            HttpStatusCode.Forbidden => new ReplayException(
                $"the daemon at {server} refused {what} (403): {fault ?? "this token may not submit jobs; use the admin token or the tenant's submit token"}"),
            HttpStatusCode.NotFound when fault is null => new ReplayException($"{server} has no {what} (404): is it a kindling daemon of this version?"),
            _ when fault is not null => new ReplayException($"the daemon refused {what} ({code}): {fault}"),
            _ => new ReplayException($"the daemon at {server} answered {what} with {code}: {body[..Math.Min(body.Length, 300)]}"),
        };
    }

    private static string? Fault(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, SubmitReplyJson.Default.FaultResponse)?.FaultMessage;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(Web.StateEventData))]
internal sealed partial class FollowJson : System.Text.Json.Serialization.JsonSerializerContext;
