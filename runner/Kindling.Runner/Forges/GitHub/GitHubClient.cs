using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kindling.Runner.Configuration;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>A response body, and whether GitHub answered 304 Not Modified to our ETag (the body is then the cached one).</summary>
public readonly record struct GitHubResponse<T>(T Value, bool NotModified);

/// <summary>
/// GitHub's REST API for one tenant's credential: the Actions endpoints a runner manager needs. Rate limits are
/// honoured (primary: wait for the reset; secondary: retry-after), GETs are conditional (ETag → 304 costs no
/// quota), 5xx, network errors and timeouts are retried with exponential backoff and jitter (Polly).
/// </summary>
public sealed partial class GitHubClient
{
    public const string ApiVersion = "2022-11-28";
    private const int MaxRateLimitWaits = 3;

    private readonly HttpClient _http;
    private readonly Uri _baseUrl;
    private readonly IGitHubTokenSource _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly ConcurrentDictionary<string, (string ETag, string Body)> _etags = new(StringComparer.Ordinal);

    public GitHubClient(HttpClient http, GitHubOptions options, IGitHubTokenSource tokens, TimeProvider time, ILogger log)
    {
        _http = http;
        _baseUrl = BaseUri(options.BaseUrl);
        _tokens = tokens;
        _time = time;
        _log = log;
        Gate = new RateLimitGate(time);
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (options.MaxRetries > 0) // 0: no retries (Polly's retry strategy needs at least one)
        {
            pipeline.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(r => (int)r.StatusCode >= 500),
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromMinutes(1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    LogRetry(_log, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Result?.StatusCode.ToString() ?? args.Outcome.Exception?.GetType().Name);
                    RetryScheduled?.Invoke(args.RetryDelay);
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            });
        }

        _pipeline = pipeline.AddTimeout(options.RequestTimeout).Build();
    }

    /// <summary>Raised with each backoff delay before a retry (for metrics and tests).</summary>
    public event Action<TimeSpan>? RetryScheduled;

    /// <summary>Raised with each wait imposed by a rate limit.</summary>
    public event Action<TimeSpan>? RateLimitWait;

    public RateLimitGate Gate { get; }

    public Uri BaseUrl => _baseUrl;

    /// <summary>The API root with a trailing slash, so relative paths keep a GHES <c>/api/v3</c> prefix.</summary>
    public static Uri BaseUri(string baseUrl) => new(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/");

    public static void AddStandardHeaders(HttpRequestMessage request)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        request.Headers.Add("X-GitHub-Api-Version", ApiVersion);
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("kindling-runner", "1.0"));
    }

    public Task<GitHubResponse<WorkflowRunList>> ListQueuedRunsAsync(string ownerRepo, CancellationToken ct) =>
        GetAsync($"{RunnerScope.Repository(ownerRepo).Path}/actions/runs?status=queued&per_page=100", GitHubJson.Default.WorkflowRunList, ct);

    public Task<GitHubResponse<WorkflowJobList>> ListRunJobsAsync(string ownerRepo, long runId, CancellationToken ct) =>
        GetAsync($"{RunnerScope.Repository(ownerRepo).Path}/actions/runs/{runId}/jobs?per_page=100", GitHubJson.Default.WorkflowJobList, ct);

    public async Task<WorkflowJob> GetJobAsync(string ownerRepo, long jobId, CancellationToken ct) =>
        (await GetAsync($"{RunnerScope.Repository(ownerRepo).Path}/actions/jobs/{jobId}", GitHubJson.Default.WorkflowJob, ct)).Value;

    public async Task<JitConfigResponse> GenerateJitConfigAsync(RunnerScope scope, JitConfigRequest body, CancellationToken ct)
    {
        string json = JsonSerializer.Serialize(body, GitHubJson.Default.JitConfigRequest);
        (HttpStatusCode _, string text) = await SendAsync(HttpMethod.Post, $"{scope.Path}/actions/runners/generate-jitconfig", json, etag: false, ct);
        return JsonSerializer.Deserialize(text, GitHubJson.Default.JitConfigResponse)!;
    }

    public async Task<RunnerList> ListRunnersAsync(RunnerScope scope, CancellationToken ct) =>
        (await GetAsync($"{scope.Path}/actions/runners?per_page=100", GitHubJson.Default.RunnerList, ct)).Value;

    /// <summary>The runner, or null when GitHub no longer knows it (404).</summary>
    public async Task<GitHubRunner?> GetRunnerAsync(RunnerScope scope, long runnerId, CancellationToken ct)
    {
        (HttpStatusCode status, string text) = await SendAsync(HttpMethod.Get, $"{scope.Path}/actions/runners/{runnerId}", null, etag: false, ct, allowNotFound: true);
        return status == HttpStatusCode.NotFound ? null : JsonSerializer.Deserialize(text, GitHubJson.Default.GitHubRunner);
    }

    /// <summary>Deletes a runner; true when it existed, false when it was already gone (idempotent).</summary>
    public async Task<bool> DeleteRunnerAsync(RunnerScope scope, long runnerId, CancellationToken ct)
    {
        (HttpStatusCode status, string _) = await SendAsync(HttpMethod.Delete, $"{scope.Path}/actions/runners/{runnerId}", null, etag: false, ct, allowNotFound: true);
        return status != HttpStatusCode.NotFound;
    }

    public async Task<AuthenticationToken> CreateRegistrationTokenAsync(RunnerScope scope, CancellationToken ct)
    {
        (HttpStatusCode _, string text) = await SendAsync(HttpMethod.Post, $"{scope.Path}/actions/runners/registration-token", null, etag: false, ct);
        return JsonSerializer.Deserialize(text, GitHubJson.Default.AuthenticationToken)!;
    }

    public async Task<AuthenticationToken> CreateRemoveTokenAsync(RunnerScope scope, CancellationToken ct)
    {
        (HttpStatusCode _, string text) = await SendAsync(HttpMethod.Post, $"{scope.Path}/actions/runners/remove-token", null, etag: false, ct);
        return JsonSerializer.Deserialize(text, GitHubJson.Default.AuthenticationToken)!;
    }

    private async Task<GitHubResponse<T>> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        (HttpStatusCode status, string text) = await SendAsync(HttpMethod.Get, path, null, etag: true, ct);
        return new GitHubResponse<T>(JsonSerializer.Deserialize(text, type)!, status == HttpStatusCode.NotModified);
    }

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(
        HttpMethod method, string path, string? json, bool etag, CancellationToken ct, bool allowNotFound = false)
    {
        bool reauthenticated = false;
        for (int limitWaits = 0; ; limitWaits++)
        {
            TimeSpan wait = Gate.WaitBeforeSend();
            if (wait > TimeSpan.Zero)
            {
                await WaitForLimitAsync(wait, "x-ratelimit-remaining is 0", ct);
            }

            string token = await _tokens.GetTokenAsync(ct);
            (string ETag, string Body) cached = default;
            bool haveCached = etag && _etags.TryGetValue(path, out cached);
            using HttpResponseMessage response = await _pipeline.ExecuteAsync(async token2 =>
            {
                using var request = new HttpRequestMessage(method, new Uri(_baseUrl, path));
                AddStandardHeaders(request);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                if (haveCached)
                {
                    request.Headers.TryAddWithoutValidation("If-None-Match", cached.ETag);
                }

                if (json is not null)
                {
                    request.Content = new StringContent(json, Encoding.UTF8, "application/json");
                }

                return await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token2);
            }, ct);

            Gate.Observe(response.Headers);
            if (response.StatusCode == HttpStatusCode.NotModified && haveCached)
            {
                return (HttpStatusCode.NotModified, cached.Body!);
            }

            string body = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized && !reauthenticated)
            {
                reauthenticated = true;
                _tokens.Invalidate();
                limitWaits--;
                continue;
            }

            TimeSpan? limit = Gate.RetryDelay(response);
            if (limit is null && response.StatusCode == HttpStatusCode.Forbidden &&
                body.Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase))
            {
                limit = RateLimitGate.SecondaryDefaultWait;
            }

            if (limit is { } delay && limitWaits < MaxRateLimitWaits)
            {
                await WaitForLimitAsync(delay, $"{(int)response.StatusCode} rate limited", ct);
                continue;
            }

            if (response.IsSuccessStatusCode)
            {
                if (etag && response.Headers.ETag is { } tag)
                {
                    _etags[path] = (tag.ToString(), body);
                }

                return (response.StatusCode, body);
            }

            if (allowNotFound && response.StatusCode == HttpStatusCode.NotFound)
            {
                return (response.StatusCode, body);
            }

            throw new GitHubApiException(method.Method, path, response.StatusCode, body);
        }
    }

    private async Task WaitForLimitAsync(TimeSpan wait, string why, CancellationToken ct)
    {
        LogRateLimited(_log, wait, why);
        RateLimitWait?.Invoke(wait);
        // Task.Delay counts whole milliseconds and truncates: round up so a request never leaves before the reset.
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), _time, ct);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub request failed ({Outcome}); retry {Attempt} in {Delay}")]
    private static partial void LogRetry(ILogger log, int attempt, TimeSpan delay, string? outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub rate limit: waiting {Wait} ({Why})")]
    private static partial void LogRateLimited(ILogger log, TimeSpan wait, string why);
}
