using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Kindling.Testing.FakeForge;

/// <summary>
/// The fake's stand-in for the Actions service a runner talks to once it holds its JIT config (GitHub's own is the
/// broker/pipelines protocol of actions/runner, out of reach here): <see cref="FakeActionsRunner"/> decodes the JIT
/// config, calls <c>POST /_runner/acquire</c> with the config's credential to be handed a queued job (which goes
/// in_progress) and <c>POST /_runner/jobs/{id}/complete</c> with its conclusion (completed; the ephemeral runner is
/// removed, as GitHub does). As GitHub, it refuses a credential it did not issue or whose runner was deleted, gives
/// a runner only a job of its scope whose labels it all has, and gives an ephemeral runner one job.
/// </summary>
public sealed partial class FakeGitHub
{
    /// <summary>The path prefix of the runner service.</summary>
    public const string RunnerServicePrefix = "/_runner";

    /// <summary>The message answered to a credential the fake did not issue or whose runner was removed.</summary>
    public const string RunnerRefusedMessage = "Bad credentials: the JIT configuration is not valid (never issued, or its runner was deleted)";

    /// <summary>
    /// The runner service's root written into each JIT config, where the runner will reach it from; default the fake's
    /// own address by name (<c>localhost</c>). A guest sets the host's address on its network (its gateway).
    /// </summary>
    public Uri? RunnerServiceUrl { get; set; }

    private Uri RunnerServiceRoot => RunnerServiceUrl ?? new UriBuilder(BaseUrl) { Host = "localhost" }.Uri;

    /// <summary>An encoded JIT config for runner <paramref name="name"/> with <paramref name="secret"/> (base64 of JSON, as GitHub's).</summary>
    public string JitConfigFor(string name, string secret) => Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject
    {
        [".runner"] = name, ["server"] = RunnerServiceRoot.ToString(), ["secret"] = secret,
    }.ToJsonString()));

    private static bool IsRunnerService(HttpContext ctx) => ctx.Request.Path.StartsWithSegments(RunnerServicePrefix, StringComparison.Ordinal);

    private void MapRunnerService(WebApplication app)
    {
        app.MapPost(RunnerServicePrefix + "/acquire", (HttpContext ctx) =>
        {
            FakeJob? job;
            lock (_lock)
            {
                if (RunnerOf(ctx) is not { } runner)
                {
                    return Error(ctx, 401, RunnerRefusedMessage);
                }

                if (_jobs.Any(j => j.RunnerId == runner.Id))
                {
                    return Error(ctx, 409, $"runner {runner.Name} is ephemeral and has had its job");
                }

                job = _jobs.Where(j => j.Status == "queued" && InScope(runner, j) && j.Labels.All(l => runner.Labels.Contains(l, StringComparer.OrdinalIgnoreCase)))
                    .OrderBy(j => j.Id).FirstOrDefault();
                if (job is null)
                {
                    return Error(ctx, 404, $"no queued job in {runner.Scope} asks only for labels of runner {runner.Name} ({string.Join(", ", runner.Labels)})");
                }

                AssignJob(job.Id, runner.Name);
            }

            return RunnerJson(ctx, new JsonObject
            {
                ["job_id"] = job.Id, ["name"] = job.Name, ["repository"] = job.Repository, ["conclusion"] = job.PlannedConclusion,
            });
        });
        app.MapPost(RunnerServicePrefix + "/jobs/{jobId:long}/complete", async (HttpContext ctx, long jobId) =>
        {
            string? conclusion;
            try
            {
                conclusion = (await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted))?["conclusion"]?.GetValue<string>();
            }
            catch (JsonException)
            {
                conclusion = null;
            }

            Func<Task> answer;
            lock (_lock)
            {
                FakeRunner? runner = RunnerOf(ctx);
                if (runner is null)
                {
                    answer = () => Error(ctx, 401, RunnerRefusedMessage);
                }
                else if (!_jobs.Any(j => j.Id == jobId && j.RunnerId == runner.Id && j.Status == "in_progress"))
                {
                    answer = () => Error(ctx, 404, $"runner {runner.Name} is not running job {jobId}");
                }
                else if (conclusion is not ("success" or "failure" or "cancelled" or "skipped"))
                {
                    answer = () => ValidationError(ctx, "Invalid request", $"conclusion '{conclusion}' is not one of success, failure, cancelled, skipped");
                }
                else
                {
                    CompleteJob(jobId, conclusion);
                    answer = () => RunnerJson(ctx, new JsonObject { ["job_id"] = jobId, ["status"] = "completed", ["conclusion"] = conclusion });
                }
            }

            await answer();
        });
    }

    /// <summary>A JSON answer of the runner service (not the REST API: no ETag, no rate-limit quota).</summary>
    private static Task RunnerJson(HttpContext ctx, JsonObject body)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(body.ToJsonString());
    }

    /// <summary>The registered runner whose credential the request carries (<c>Authorization: RunnerSecret …</c>); null when none.</summary>
    private FakeRunner? RunnerOf(HttpContext ctx)
    {
        string auth = ctx.Request.Headers.Authorization.ToString();
        const string scheme = "RunnerSecret ";
        return auth.StartsWith(scheme, StringComparison.Ordinal) && auth.Length > scheme.Length
            ? _runners.FirstOrDefault(r => r.Secret.Length > 0 && r.Secret == auth[scheme.Length..])
            : null;
    }

    private static bool InScope(FakeRunner runner, FakeJob job) =>
        runner.Scope == $"repos/{job.Repository}" || (runner.Scope.StartsWith("orgs/", StringComparison.Ordinal) && job.Repository.StartsWith(runner.Scope[5..] + "/", StringComparison.Ordinal));
}
