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

/// <summary>One answer: its status, body and the <c>Link: rel="next"</c> URL when the list goes on.</summary>
internal readonly record struct GitHubReply(HttpStatusCode Status, string Body, string? Next);

/// <summary>
/// GitHub's REST API for one tenant's credential: the Actions endpoints a runner manager needs. Rate limits are
/// honoured (primary: wait for the reset; secondary: retry-after), GETs are conditional (ETag → 304 costs no
/// quota), 5xx, network errors and timeouts are retried with exponential backoff and jitter (Polly). Lists follow
/// GitHub's <c>Link: rel="next"</c> to their end, up to <see cref="GitHubOptions.MaxPages"/> pages.
/// </summary>
public sealed partial class GitHubClient
{
    public const string ApiVersion = "2022-11-28";
    /// <summary>GitHub's largest page.</summary>
    public const int PerPage = 100;
    private const int MaxRateLimitWaits = 3;
    /// <summary>
    /// Cached list pages kept for conditional GETs: each run's jobs and each hour's in-progress window add one, so the
    /// cache is emptied when it passes this (the next poll then pays for one unconditional page each).
    /// </summary>
    private const int MaxCachedPages = 4096;

    private readonly HttpClient _http;
    private readonly Uri _baseUrl;
    private readonly IGitHubTokenSource _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly int _maxPages;
    private readonly ConcurrentDictionary<string, (string ETag, string Body, string? Next)> _etags = new(StringComparer.Ordinal);

    public GitHubClient(HttpClient http, GitHubOptions options, IGitHubTokenSource tokens, TimeProvider time, ILogger log)
    {
        _http = http;
        Options = options;
        _baseUrl = BaseUri(options.BaseUrl);
        _tokens = tokens;
        _time = time;
        _log = log;
        _maxPages = Math.Max(1, options.MaxPages);
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

    /// <summary>Raised with each wait imposed by a rate limit (rounded up to whole milliseconds), once the wait has begun.</summary>
    public event Action<TimeSpan>? RateLimitWait;

    public RateLimitGate Gate { get; }

    public GitHubOptions Options { get; }

    public TimeProvider Time => _time;

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
        ListRunsAsync(ownerRepo, "queued", null, ct);

    /// <summary>
    /// Every run with <paramref name="status"/> (all pages); with <paramref name="createdSince"/>, only runs created
    /// at or after it (GitHub's <c>created=&gt;=</c> filter).
    /// </summary>
    public async Task<GitHubResponse<WorkflowRunList>> ListRunsAsync(string ownerRepo, string status, DateTimeOffset? createdSince, CancellationToken ct)
    {
        string created = createdSince is { } since
            ? "&created=" + Uri.EscapeDataString(">=" + since.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))
            : "";
        (int total, List<WorkflowRun> runs, bool notModified) = await GetAllPagesAsync(
            $"{RunnerScope.Repository(ownerRepo).Path}/actions/runs?status={Uri.EscapeDataString(status)}{created}&per_page={PerPage}",
            GitHubJson.Default.WorkflowRunList, l => (l.TotalCount, l.WorkflowRuns), ct);
        return new GitHubResponse<WorkflowRunList>(new WorkflowRunList(total, runs), notModified);
    }

    /// <summary>Every job of the run's latest attempt (all pages).</summary>
    public async Task<GitHubResponse<WorkflowJobList>> ListRunJobsAsync(string ownerRepo, long runId, CancellationToken ct)
    {
        (int total, List<WorkflowJob> jobs, bool notModified) = await GetAllPagesAsync(
            $"{RunnerScope.Repository(ownerRepo).Path}/actions/runs/{runId}/jobs?per_page={PerPage}",
            GitHubJson.Default.WorkflowJobList, l => (l.TotalCount, l.Jobs), ct);
        return new GitHubResponse<WorkflowJobList>(new WorkflowJobList(total, jobs), notModified);
    }

    public async Task<WorkflowJob> GetJobAsync(string ownerRepo, long jobId, CancellationToken ct) =>
        (await GetAsync($"{RunnerScope.Repository(ownerRepo).Path}/actions/jobs/{jobId}", GitHubJson.Default.WorkflowJob, ct)).Value;

    public async Task<JitConfigResponse> GenerateJitConfigAsync(RunnerScope scope, JitConfigRequest body, CancellationToken ct)
    {
        string json = JsonSerializer.Serialize(body, GitHubJson.Default.JitConfigRequest);
        (_, string text, _) = await SendAsync(HttpMethod.Post, $"{scope.Path}/actions/runners/generate-jitconfig", json, etag: false, ct);
        return JsonSerializer.Deserialize(text, GitHubJson.Default.JitConfigResponse)!;
    }

    /// <summary>Every self-hosted runner of the scope (all pages).</summary>
    public async Task<RunnerList> ListRunnersAsync(RunnerScope scope, CancellationToken ct)
    {
        (int total, List<GitHubRunner> runners, bool _) = await GetAllPagesAsync(
            $"{scope.Path}/actions/runners?per_page={PerPage}", GitHubJson.Default.RunnerList, l => (l.TotalCount, l.Runners), ct);
        return new RunnerList(total, runners);
    }

    /// <summary>The runner, or null when GitHub no longer knows it (404).</summary>
    public async Task<GitHubRunner?> GetRunnerAsync(RunnerScope scope, long runnerId, CancellationToken ct)
    {
        (HttpStatusCode status, string text, _) = await SendAsync(HttpMethod.Get, $"{scope.Path}/actions/runners/{runnerId}", null, etag: false, ct, allowNotFound: true);
        return status == HttpStatusCode.NotFound ? null : JsonSerializer.Deserialize(text, GitHubJson.Default.GitHubRunner);
    }

    /// <summary>Deletes a runner; true when it existed, false when it was already gone (idempotent).</summary>
    public async Task<bool> DeleteRunnerAsync(RunnerScope scope, long runnerId, CancellationToken ct)
    {
        (HttpStatusCode status, _, _) = await SendAsync(HttpMethod.Delete, $"{scope.Path}/actions/runners/{runnerId}", null, etag: false, ct, allowNotFound: true);
        return status != HttpStatusCode.NotFound;
    }

    public async Task<AuthenticationToken> CreateRegistrationTokenAsync(RunnerScope scope, CancellationToken ct)
    {
        (_, string text, _) = await SendAsync(HttpMethod.Post, $"{scope.Path}/actions/runners/registration-token", null, etag: false, ct);
        return JsonSerializer.Deserialize(text, GitHubJson.Default.AuthenticationToken)!;
    }

    public async Task<AuthenticationToken> CreateRemoveTokenAsync(RunnerScope scope, CancellationToken ct)
    {
        (_, string text, _) = await SendAsync(HttpMethod.Post, $"{scope.Path}/actions/runners/remove-token", null, etag: false, ct);
        return JsonSerializer.Deserialize(text, GitHubJson.Default.AuthenticationToken)!;
    }

    private async Task<GitHubResponse<T>> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        (HttpStatusCode status, string text, _) = await SendAsync(HttpMethod.Get, path, null, etag: true, ct);
        return new GitHubResponse<T>(JsonSerializer.Deserialize(text, type)!, status == HttpStatusCode.NotModified);
    }

    /// <summary>
    /// A list and the pages after it: <c>Link: rel="next"</c> is followed as GitHub wrote it (it may name another
    /// path, such as <c>/repositories/ID/…</c>) while it stays under the API root, up to the page limit. Each page is
    /// conditional on its own ETag; the whole is "not modified" when every page was.
    /// </summary>
    private async Task<(int Total, List<TItem> Items, bool NotModified)> GetAllPagesAsync<TPage, TItem>(
        string path, JsonTypeInfo<TPage> type, Func<TPage, (int Total, IReadOnlyList<TItem> Items)> read, CancellationToken ct)
    {
        List<TItem> items = [];
        int total = 0;
        bool notModified = true;
        string? next = path;
        for (int page = 1; next is not null; page++)
        {
            if (page > _maxPages)
            {
                LogPageLimit(_log, path, _maxPages, items.Count, total);
                break;
            }

            GitHubReply reply = await SendAsync(HttpMethod.Get, next, null, etag: true, ct);
            (int pageTotal, IReadOnlyList<TItem> pageItems) = read(JsonSerializer.Deserialize(reply.Body, type)!);
            total = page == 1 ? pageTotal : total;
            items.AddRange(pageItems);
            notModified &= reply.Status == HttpStatusCode.NotModified;
            next = reply.Next is null ? null : UnderBase(reply.Next, path);
        }

        return (total, items, notModified);
    }

    /// <summary>The next page's path relative to the API root; a link elsewhere is refused (the token must not follow it).</summary>
    private string UnderBase(string link, string listPath)
    {
        if (Uri.TryCreate(link, UriKind.Absolute, out Uri? url) &&
            url.GetLeftPart(UriPartial.Authority) == _baseUrl.GetLeftPart(UriPartial.Authority) &&
            url.AbsolutePath.StartsWith(_baseUrl.AbsolutePath, StringComparison.Ordinal))
        {
            return url.PathAndQuery[_baseUrl.AbsolutePath.Length..];
        }

        throw new InvalidOperationException(
            $"GitHub's Link: rel=\"next\" for /{listPath} points outside the API root {_baseUrl}: {link}; check Forge:GitHub:BaseUrl (for GHES, https://HOST/api/v3)");
    }

    private async Task<GitHubReply> SendAsync(
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
            (string ETag, string Body, string? Next) cached = default;
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
                return new GitHubReply(HttpStatusCode.NotModified, cached.Body!, cached.Next);
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
                string? next = LinkHeader.Find(response.Headers.TryGetValues("Link", out IEnumerable<string>? links) ? links : null, "next");
                if (etag && response.Headers.ETag is { } tag)
                {
                    if (_etags.Count >= MaxCachedPages && !_etags.ContainsKey(path))
                    {
                        _etags.Clear();
                    }

                    _etags[path] = (tag.ToString(), body, next);
                }

                return new GitHubReply(response.StatusCode, body, next);
            }

            if (allowNotFound && response.StatusCode == HttpStatusCode.NotFound)
            {
                return new GitHubReply(response.StatusCode, body, null);
            }

            throw new GitHubApiException(method.Method, path, response.StatusCode, body);
        }
    }

    private async Task WaitForLimitAsync(TimeSpan wait, string why, CancellationToken ct)
    {
        // Task.Delay counts whole milliseconds and truncates: round up so a request never leaves before the reset.
        wait = TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds));
        LogRateLimited(_log, wait, why);
        Task delay = Task.Delay(wait, _time, ct);
        RateLimitWait?.Invoke(wait); // once the wait's timer exists, so a test's clock can move past it at once
        await delay;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub request failed ({Outcome}); retry {Attempt} in {Delay}")]
    private static partial void LogRetry(ILogger log, int attempt, TimeSpan delay, string? outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub list /{Path} stopped at {MaxPages} pages ({Read} of {Total} items read); raise Forge:GitHub:MaxPages to read the rest")]
    private static partial void LogPageLimit(ILogger log, string path, int maxPages, int read, int total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub rate limit: waiting {Wait} ({Why})")]
    private static partial void LogRateLimited(ILogger log, TimeSpan wait, string why);
}
