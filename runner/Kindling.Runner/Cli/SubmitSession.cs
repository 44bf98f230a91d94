using System.Text.RegularExpressions;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;
using Microsoft.Extensions.Configuration;

namespace Kindling.Runner.Cli;

/// <summary>
/// <c>kindling submit</c>: resolves a workflow job exactly as <c>kindling replay</c> does (the same WorkflowSet and
/// ReplayPlanner: contexts, env, matrix, if: reduced to the agent's conditions, secrets as references), then sends
/// each selected matrix combination to a running daemon (<c>POST /api/jobs</c>) instead of running it here. With
/// --wait it follows each job's state and log to its end; the exit code is then the job's, as replay's.
/// </summary>
public static partial class SubmitSession
{
    public const string TokenEnvironment = "KINDLING_TOKEN";

    public static async Task<int> RunAsync(SubmitOptions o, ReplayConsole io, CancellationToken ct)
    {
        try
        {
            return await SubmitAsync(o, io, ct);
        }
        catch (Exception e) when (e is ReplayException or WorkflowException)
        {
            io.Error.WriteLine($"kindling submit: {e.Message}");
            return ReplaySession.ExitUsage;
        }
    }

    private static async Task<int> SubmitAsync(SubmitOptions o, ReplayConsole io, CancellationToken ct)
    {
        IReadOnlyList<(SubmitRequest Request, IReadOnlyList<string> Warnings)> jobs = await ResolveAsync(o, io, ct);
        if (jobs.Count == 0)
        {
            return 0;
        }

        IConfiguration config = Config(o.Config);
        Uri server = Server(o.Server, config);
        string? token = Token(o.Token, io, config);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        var daemon = new DaemonClient(http, server, token is not null);
        List<SubmitResponse> submitted = [];
        foreach ((SubmitRequest request, IReadOnlyList<string> warnings) in jobs)
        {
            foreach (string w in warnings)
            {
                io.Error.WriteLine($"warning: {w}");
            }

            SubmitResponse r = await daemon.SubmitAsync(request, Guid.NewGuid().ToString("N"), ct);
            submitted.Add(r);
            io.Out.WriteLine($"submitted job {r.Id} ({r.Name}) for tenant {r.Tenant}: {r.State}; {new Uri(server, r.Url.TrimStart('/'))}");
        }

        if (!o.Wait)
        {
            return 0;
        }

        int exit = 0;
        foreach (SubmitResponse r in submitted)
        {
            FollowedJob end;
            try
            {
                end = await daemon.FollowAsync(r.Id, text => io.Out.WriteLine(text), state => io.Error.WriteLine($"job {r.Id}: {state}"), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                io.Error.WriteLine($"kindling submit: stopped following; job {r.Id} keeps running on the daemon ({new Uri(server, r.Url.TrimStart('/'))})");
                return ReplaySession.ExitCancelled;
            }

            int code = ReplaySession.ExitCode(end.Result, end.ExitCode, interrupted: false);
            io.Out.WriteLine($"job {r.Id} {JobLifecycle.Name(end.Result)} (exit {code})");
            exit = exit == 0 ? code : exit;
        }

        return exit;
    }

    /// <summary>The job (one request per selected matrix combination), planned by replay's planner.</summary>
    private static async Task<IReadOnlyList<(SubmitRequest, IReadOnlyList<string>)>> ResolveAsync(SubmitOptions o, ReplayConsole io, CancellationToken ct)
    {
        string repo = Path.GetFullPath(o.Directory ?? ".", io.CurrentDirectory);
        string path = Path.GetFullPath(o.Workflow, io.CurrentDirectory);
        WorkflowSet set = WorkflowSet.Load(path, io.CurrentDirectory);
        foreach (WorkflowException broken in set.Broken)
        {
            io.Error.WriteLine($"warning: skipped {broken.Message}");
        }

        if (set.Workflows.Count == 0)
        {
            throw new ReplayException($"no usable workflow in {path}");
        }

        WorkflowJobRef j = ReplaySession.SelectJobs(set, new ReplayOptions { Job = o.Job }, io)[0];
        SourceInfo source = await GitSource.ProbeAsync(repo, ct);
        var inputs = new ReplayInputs
        {
            Source = source, EventName = o.EventName ?? ReplaySession.EventName(ExprValue.Object([]), j.Workflow),
            Vars = SecretArguments.Pairs(o.Vars, '=', "--var"), Inputs = SecretArguments.Pairs(o.Inputs, '=', "--input"),
            MatrixFilters = SecretArguments.Pairs(o.Matrix, ':', "--matrix"),
        };
        List<(SubmitRequest, IReadOnlyList<string>)> jobs = [];
        foreach (ReplayJobPlan p in ReplayPlanner.Plan(j.Workflow, j.Job.Id, inputs))
        {
            if (p.SkipReason is { } skip)
            {
                io.Out.WriteLine($"job {p.DisplayName} is not submitted: {skip}");
                continue;
            }

            if (p.SetupError is { } setup)
            {
                throw new ReplayException($"job {p.DisplayName} would fail at set-up: {setup}");
            }

            jobs.Add((Request(p, o, source), Warnings(p, j)));
        }

        return jobs;
    }

    /// <summary>The plan as the API's request: its steps, env and secret references; never a workspace (the daemon reads no client paths).</summary>
    public static SubmitRequest Request(ReplayJobPlan p, SubmitOptions o, SourceInfo source)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(source);
        if (p.UnsupportedSteps.Count > 0)
        {
            throw new ReplayException(
                $"job {p.Job.Id} has steps that use actions, which submitted jobs do not run yet: " +
                string.Join("; ", p.UnsupportedSteps.Select(s => $"step {s.Number} '{s.Name}' ({s.Uses})")) + ". Replace them with run: steps");
        }

        return new SubmitRequest
        {
            Tenant = o.Tenant, Repository = source.Repository, Name = p.DisplayName, RunsOn = o.RunsOn.Count > 0 ? o.RunsOn : p.Labels,
            Env = p.Spec.Env, Secrets = p.Spec.SecretRefs, TimeoutMinutes = p.Spec.Timeout?.TotalMinutes,
            Steps = [.. p.Spec.Steps.Select(s => new SubmitStep
            {
                Name = s.Name, Run = s.Run, Shell = s.Shell, WorkingDirectory = s.WorkingDirectory.Length == 0 ? null : s.WorkingDirectory,
                If = s.If, ContinueOnError = s.ContinueOnError ? true : null, Env = s.Env.Count == 0 ? null : s.Env,
                TimeoutMinutes = s.Timeout?.TotalMinutes,
            })],
        };
    }

    private static List<string> Warnings(ReplayJobPlan p, WorkflowJobRef j)
    {
        List<string> w = [.. p.Warnings];
        if (p.Steps.Any(s => s.Kind == PlannedStepKind.Checkout))
        {
            w.Add($"job {p.Job.Id}: actions/checkout is kept as a step, but the daemon's job starts with an empty /workspace (submit sends no files): " +
                  "clone the repository in a run: step if the job needs it");
        }

        if (p.Spec.User is not null || p.Spec.Hostname is not null)
        {
            w.Add($"job {p.Job.Id}: its container's user and hostname are not submitted (the daemon's API has no such fields): its steps run as root");
        }

        if (j.Job.Needs.Count > 0)
        {
            w.Add($"job {p.Job.Id} needs {string.Join(", ", j.Job.Needs)}: only this job is submitted, with needs.* as if they had succeeded without outputs");
        }

        return w;
    }

    /// <summary>The config the daemon on this machine would read: the defaults of --server and the token.</summary>
    private static IConfiguration Config(string? file)
    {
        string? path = file ?? RunnerHost.DefaultConfigPaths.FirstOrDefault(File.Exists);
        if (file is not null && !File.Exists(file))
        {
            throw new ReplayException($"--config {file} does not exist");
        }

        var builder = new ConfigurationBuilder();
        try
        {
            RunnerHost.AddConfiguration(builder, [], path);
            return builder.Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new ReplayException($"cannot read the configuration ({path}) for the daemon's address: {e.Message}; pass --server URL");
        }
    }

    /// <summary>--server, else the config's Kindling:Web:Url (its first URL; a wildcard host is reached on loopback).</summary>
    public static Uri Server(string? given, IConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string from = given is null ? "Kindling:Web:Url" : "--server";
        string url = (given ?? config["Kindling:Web:Url"] ?? new WebOptions().Url).Split(';')[0].Trim();
        url = WildcardHost().Replace(url, "${scheme}127.0.0.1");
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ReplayException($"{from} '{url}' is not an http(s) URL; pass --server http://HOST:PORT");
        }

        if (uri.Port == 0)
        {
            throw new ReplayException($"{from} '{url}' has port 0 (a free port chosen at start); pass --server with the port the daemon listens on");
        }

        return new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }

    /// <summary>
    /// --token names an environment variable or a file holding the token (never the token itself: command lines are
    /// visible to every user); else $KINDLING_TOKEN; else the daemon's generated STATE/admin-token when readable.
    /// </summary>
    public static string? Token(string? given, ReplayConsole io, IConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(config);
        if (given is not null)
        {
            if (io.Environment(given) is { Length: > 0 } fromEnv)
            {
                return fromEnv.Trim();
            }

            string file = Path.GetFullPath(given, io.CurrentDirectory);
            if (!File.Exists(file))
            {
                throw new ReplayException($"--token {given}: there is no environment variable {given} and no file {file}; name an environment variable or a file that holds the token");
            }

            return File.ReadAllText(file).Trim() is { Length: > 0 } fromFile ? fromFile : throw new ReplayException($"--token {given}: {file} is empty");
        }

        if (io.Environment(TokenEnvironment) is { Length: > 0 } env)
        {
            return env.Trim();
        }

        string state = config["Kindling:StateDirectory"] is { Length: > 0 } s ? s : KindlingServices.DefaultStateDirectory();
        string generated = Path.Combine(state, Web.WebCredentials.GeneratedTokenFile);
        try
        {
            return File.Exists(generated) && File.ReadAllText(generated).Trim() is { Length: > 0 } t ? t : null;
        }
        catch (UnauthorizedAccessException)
        {
            return null; // the daemon's own token is root's: the 401 says to pass one
        }
    }

    [GeneratedRegex(@"^(?<scheme>https?://)(\*|\+|0\.0\.0\.0|\[::\])(?=[:/]|$)", RegexOptions.IgnoreCase)]
    private static partial Regex WildcardHost();
}
