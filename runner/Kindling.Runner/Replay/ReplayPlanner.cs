using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// Resolves one workflow job against the replay's inputs into job specs for the guest agent (one per selected
/// matrix combination): contexts, env at every level, defaults, matrix, if: conditions reduced to the agent's
/// status functions, timeouts, and secrets kept out of every spec (the guest reads them from MMDS by name).
/// Everything wrong with the input is found here, before any VM starts.
/// </summary>
public static class ReplayPlanner
{
    public static WorkflowJob FindJob(Workflow wf, string jobId) =>
        wf.Jobs.FirstOrDefault(j => j.Id == jobId)
        ?? throw new ReplayException($"{wf.FileName} has no job '{jobId}'; its jobs are: {string.Join(", ", wf.Jobs.Select(j => j.Id))}");

    public static IReadOnlyList<ReplayJobPlan> Plan(Workflow wf, string jobId, ReplayInputs inputs)
    {
        WorkflowJob job = FindJob(wf, jobId);
        string where = $"{wf.FileName}: job '{job.Id}'";
        if (job.CallError is { } callError)
        {
            throw new ReplayException(callError);
        }

        if (job.CalleeJobs.Count > 0)
        {
            return []; // the call itself runs nothing: its callee's jobs (caller/job) do
        }

        if (job.Uses is { } reusable)
        {
            throw new ReplayException($"{where} calls the reusable workflow {reusable} (jobs.{job.Id}.uses); reusable workflows are not supported by replay yet");
        }

        // A job of a reusable workflow: the callee's env and defaults, the caller's github context and needs.
        Workflow outer = wf;
        wf = job.Call?.Callee ?? wf;
        try
        {
            (ExprValue secrets, IReadOnlyList<string> required, IReadOnlyList<string> missing) = Secrets(wf, job, inputs, where);
            ExprValue github = ReplayContexts.GitHub(outer, job.Id, inputs);
            (ExprValue inputsContext, ExprValue callSecrets) = ReusableCallContexts.For(outer, job.Call, inputs, github, secrets);
            if (!InheritsSecrets(job.Call))
            {
                // the callee's secrets are the caller's secrets: mapping, not the ones given to replay by name
                required = [.. required.Where(inputs.Secrets.ContainsKey)];
                missing = [];
            }

            var contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
            {
                ["github"] = github,
                ["inputs"] = inputsContext,
                ["vars"] = ExprValue.Object(inputs.Vars.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value)))),
                ["secrets"] = callSecrets,
                ["needs"] = inputs.Needs ?? PlannedNeeds(outer, job),
            };
            var unavailable = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["steps"] = "a step's outputs, outcome and conclusion in a later step's expressions are not supported by replay yet (they are evaluated before the VM boots)",
                ["matrix"] = "the matrix is not known at this level",
                ["env"] = "env is not available at the workflow level",
            };
            var top = new ExprContext { Contexts = contexts, Unavailable = unavailable, Where = $"{wf.FileName}: env" };

            // env, lowest first: GitHub's defaults, --env-file, the workflow's env.
            var env = new List<KeyValuePair<string, ExprValue>>();
            Set(env, ReplayContexts.DefaultEnv(github).Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value))));
            string[] defaultNames = [.. env.Select(kv => kv.Key)];
            Set(env, inputs.EnvFile.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value))));
            foreach ((string k, string v) in wf.Env)
            {
                Set(env, [KeyValuePair.Create(k, Template.Evaluate(v, top with { Where = $"{wf.FileName}: env.{k}" }))]);
            }

            if (inputs.Needs is null && MatrixReadsNeeds(job))
            {
                throw new NeedsFirstException($"{where}: strategy.matrix comes from needs ({string.Join(", ", job.Needs)}): " +
                                              "it is known once they have run, so a dry run cannot expand it (a run does)");
            }

            IReadOnlyList<MatrixCombination> all = Matrix(job, top with { Where = $"{where}: strategy.matrix" });
            IReadOnlyList<MatrixCombination> combos = MatrixExpander.Filter(all, inputs.MatrixFilters, where);
            IReadOnlyList<string> unknownKeys = MatrixExpander.UnknownKeys(all, inputs.MatrixFilters);
            (bool failFast, int maxParallel) = Strategy(job, top with { Where = $"{where}: strategy" }, all.Count);

            List<ReplayJobPlan> plans = [];
            for (int i = 0; i < combos.Count; i++)
            {
                var jobContexts = new Dictionary<string, ExprValue>(contexts, StringComparer.OrdinalIgnoreCase)
                {
                    ["matrix"] = combos[i].ToContext(),
                    ["strategy"] = ExprValue.Object(
                    [
                        new("fail-fast", ExprValue.Bool(failFast)), new("job-index", ExprValue.Number(all.ToList().IndexOf(combos[i]))),
                        new("job-total", ExprValue.Number(all.Count)), new("max-parallel", ExprValue.Number(maxParallel)),
                    ]),
                    ["runner"] = ReplayContexts.Runner(),
                    ["job"] = ExprValue.Object([new("status", ExprValue.String("success"))]),
                    ["env"] = ExprValue.Object(env),
                };
                var jobUnavailable = new Dictionary<string, string>(unavailable, StringComparer.OrdinalIgnoreCase);
                jobUnavailable.Remove("matrix");
                jobUnavailable.Remove("env");
                var ctx = new ExprContext { Contexts = jobContexts, Unavailable = jobUnavailable, Where = where, HashFiles = HashFiles(inputs) };
                ReplayJobPlan plan = PlanCombination(wf, job, combos[i], i + 1, combos.Count, ctx, env, defaultNames, inputs, required, missing);
                plans.Add(plan with
                {
                    FailFast = failFast, MaxParallel = maxParallel,
                    Warnings = [.. unknownKeys.Select(k => $"--matrix {k}:…: this job's matrix has no key '{k}'; the filter is ignored for it"), .. plan.Warnings],
                });
            }

            // Planning ahead (a dry run): a calling job's if: is decided with its needs taken as succeeded.
            if (inputs.Needs is null && CallGate.SkipReason(outer, job.Call, inputs, null) is { } gate)
            {
                plans = [.. plans.Select(p => p.SkipReason is null ? p with { SkipReason = gate } : p)];
            }

            return plans;
        }
        catch (ExpressionException e)
        {
            throw new ReplayException(e.Message, e);
        }
        catch (MatrixException e)
        {
            throw new ReplayException(e.Message, e);
        }
    }

    private static bool InheritsSecrets(ReusableCall? call) => call is null || (call.Caller.SecretsInherit && InheritsSecrets(call.Parent));

    /// <summary>
    /// The needs context before the needed jobs have run: each succeeded, each output a placeholder naming where its
    /// value will come from (a dry run shows it; a run plans the job again once its needs are known).
    /// </summary>
    private static ExprValue PlannedNeeds(Workflow wf, WorkflowJob job) => ExprValue.Object(job.Needs.Select(id =>
        KeyValuePair.Create(id, ExprValue.Object(
        [
            new("result", ExprValue.String(JobResults.Success)),
            new("outputs", ExprValue.Object((wf.Jobs.FirstOrDefault(j => j.Id == id)?.Outputs ?? [])
                .Select(o => KeyValuePair.Create(o.Key, ExprValue.String($"<needs.{id}.outputs.{o.Key}>"))))),
        ]))));

    /// <summary>strategy.fail-fast (default true) and max-parallel (default: every combination at once).</summary>
    internal static (bool FailFast, int MaxParallel) Strategy(WorkflowJob job, ExprContext ctx, int combinations)
    {
        bool failFast = true;
        if (job.FailFast is { } ff)
        {
            ExprValue v = Template.Evaluate(ff, ctx with { Where = $"{ctx.Where}.fail-fast" });
            failFast = v.Kind == ExprKind.Boolean ? v.AsBoolean
                : v.ToString() is "true" or "false" ? v.ToString() == "true"
                : throw new ReplayException($"{ctx.Where}.fail-fast must be true or false, not {v.Describe()}");
        }

        int maxParallel = Math.Max(combinations, 1);
        if (job.MaxParallel is { } mp)
        {
            ExprValue v = Template.Evaluate(mp, ctx with { Where = $"{ctx.Where}.max-parallel" });
            double n = v.ToNumber();
            maxParallel = n >= 1 && n == Math.Floor(n) && n <= int.MaxValue
                ? Math.Min((int)n, maxParallel)
                : throw new ReplayException($"{ctx.Where}.max-parallel must be a whole number of at least 1, not {v.Describe()}");
        }

        return (failFast, maxParallel);
    }

    private static bool MatrixReadsNeeds(WorkflowJob job)
    {
        IEnumerable<string> sources = job.Matrix is not { } m ? [] :
            [
                .. m.Expression is { } e ? [e] : Array.Empty<string>(), .. m.Axes.Select(a => a.Expression).OfType<string>(),
                .. m.Axes.SelectMany(a => a.Values).Where(v => v.Kind == ExprKind.String).Select(v => v.AsString),
            ];
        return sources.Where(Template.HasExpressions)
            .SelectMany(src => Template.Parse(src, "matrix")).Select(p => p.Expression).OfType<Expr>()
            .Any(e => ExprTree.Contexts(e).Contains("needs"));
    }

    private static Func<IReadOnlyList<string>, string> HashFiles(ReplayInputs inputs) => patterns =>
        inputs.WorkspaceHash?.Compute(patterns) ?? throw new ReplayException("hashFiles(): this replay has no workspace to hash");

    private static ReplayJobPlan PlanCombination(Workflow wf, WorkflowJob job, MatrixCombination combo, int index, int total, ExprContext ctx,
        List<KeyValuePair<string, ExprValue>> workflowEnv, string[] defaultNames, ReplayInputs inputs, IReadOnlyList<string> required, IReadOnlyList<string> missing)
    {
        string where = ctx.Where + (combo.IsEmpty ? "" : $" ({combo})");
        ExprContext At(string field) => ctx with { Where = $"{where}: {field}" };
        List<string> warnings = [];

        string display = job.Name is { } n
            ? Text(Template.Evaluate(n, At("name")))
            : combo.IsEmpty ? job.Id : $"{job.Id} ({string.Join(", ", combo.Values.Select(kv => kv.Value.ToString()))})";

        List<string> labels = [];
        foreach (string l in job.RunsOn)
        {
            ExprValue v = Template.Evaluate(l, At("runs-on"));
            labels.AddRange(v.Kind == ExprKind.Array ? v.Items.Select(x => x.ToString()) : [v.ToString()]);
        }

        labels.RemoveAll(string.IsNullOrWhiteSpace);
        if (labels.FirstOrDefault(l => OtherOsRunner.Os(l) is not null) is { } other)
        {
            warnings.Add(OtherOsRunner.Warning(other, wf, job, inputs.Image));
        }

        string? skip = null;
        StepConditions jobCondition = StepConditions.Evaluate(job.If, At("if"));
        if (inputs.NeedsFailed ? !jobCondition.WhenFailed : !jobCondition.WhenOk)
        {
            skip = job.If is { } jobIf ? $"its if: ({jobIf.Trim()}) is false" : "a job it needs did not succeed";
        }

        var env = new List<KeyValuePair<string, ExprValue>>(workflowEnv);
        foreach ((string k, string v) in job.Env)
        {
            Set(env, [KeyValuePair.Create(k, Template.Evaluate(v, At($"env.{k}")))]);
        }

        TimeSpan timeout = ReplayDefaults.DefaultJobTimeout;
        if (job.TimeoutMinutes is { } tm)
        {
            timeout = TimeSpan.FromMinutes(Minutes(Template.Evaluate(tm, At("timeout-minutes")), $"{where}: timeout-minutes"));
        }

        ContainerJob? container = ContainerJob.Resolve(job, ctx with { Where = where }, inputs, $"{wf.File}|{job.Id}|{combo}");
        if (container is not null)
        {
            // container.env is the container's own environment: the workflow's and the job's env win over it (GitHub
            // passes those to each step's docker exec), as does a step's.
            foreach ((string k, ExprValue v) in container.Env.Where(kv => !wf.Env.Any(e => e.Key == kv.Key) && !job.Env.Any(e => e.Key == kv.Key)))
            {
                Set(env, [KeyValuePair.Create(k, v)]);
            }

            warnings.Add(container.Note);
            warnings.AddRange(container.Warnings);
            inputs = inputs with { Image = container.Flavour, InContainer = true };
        }

        if (job.Services.Count > 0)
        {
            warnings.Add($"services: {string.Join(", ", job.Services)} are not started (not supported yet)");
        }

        HashSet<string> jobPlain = [.. env.Where(kv => !kv.Value.IsSecret).Select(kv => kv.Key)];
        var secretNames = new GuestSecretNames(jobPlain);
        List<string> secretEnv = [];
        foreach ((string k, ExprValue v) in env.Where(kv => kv.Value.IsSecret))
        {
            secretNames.AddEnv(k, Recipe(v, $"{where}: env.{k}"), $"{where}: env.{k}");
            secretEnv.Add(k);
        }

        // Before boot no step has run: steps is empty here; ReplayStepSource plans each step again when its turn comes.
        var stepCtx = ctx with
        {
            Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["env"] = ExprValue.Object(env), ["steps"] = ExprValue.Object([]) },
            Unavailable = ctx.Unavailable.Where(kv => kv.Key != "steps").ToDictionary(StringComparer.OrdinalIgnoreCase),
        };
        var steps = new List<PlannedStep>();
        string? envWriter = null;
        foreach (WorkflowStep s in job.Steps)
        {
            if (envWriter is not null && ReadsEnv(s))
            {
                warnings.Add($"step {s.Number} reads the env context, which step {envWriter} changes through $GITHUB_ENV: the run evaluates its " +
                             "expressions when the step starts, with $GITHUB_ENV's values; this plan shows them with the workflow's env");
            }

            if (s.Run?.Contains("GITHUB_ENV", StringComparison.Ordinal) == true)
            {
                envWriter ??= s.Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            WorkflowStep step = s;
            IReadOnlyList<PlannedStep> planned = ReplayStepSource.PlanOrDefer(step, warnings,
                () => StepPlanner.PlanAll(wf, job, step, stepCtx with { Where = $"{where}: {StepName(step)}" }, env, secretNames, inputs, warnings, 0));
            steps.AddRange(ReadsStepsContext(step)
                ? planned.Select(p => p with { Notes = [.. p.Notes, "reads the steps context: evaluated when the step starts, with the earlier steps' outputs, outcome and conclusion (shown here before any step ran)"] })
                : planned);
        }

        // GitHub's order: the pre: scripts of the job's actions first, the post: scripts last, in reverse.
        steps = [.. steps.Where(s => s.Stage == PlannedStepStage.Pre), .. steps.Where(s => s.Stage == PlannedStepStage.Main),
            .. steps.Where(s => s.Stage == PlannedStepStage.Post).Reverse()];
        var spec = new JobSpec
        {
            Name = display,
            Timeout = timeout,
            Steps = [.. steps.Select(s => s.Spec)],
            Env = env.Where(kv => !kv.Value.IsSecret).ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal),
            SecretRefs = secretNames.Refs,
            User = container?.User, Hostname = container?.Hostname,
            Origin = new ReplayOrigin
            {
                WorkflowFile = wf.FullPath is { } full ? RelativeTo(inputs.Source.Root, full) : wf.File, JobId = job.Id,
                Matrix = combo.Values.ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal),
                Image = inputs.Image, WorkspaceSource = inputs.WorkspaceDescription,
            },
        };
        return new ReplayJobPlan
        {
            Workflow = wf, Job = job, Matrix = combo, Index = index, Total = total, DisplayName = display,
            Labels = labels.Count > 0 ? labels : [ReplayDefaults.Tenant],
            Spec = spec, Steps = steps, DefaultEnvNames = defaultNames, SecretEnv = secretEnv,
            RequiredSecrets = required, MissingSecrets = missing, Warnings = warnings, SkipReason = skip,
            Container = container, SetupError = container?.SetupError,
            JobContext = ctx with { Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["env"] = ExprValue.Object(env) } },
            Replan = (s, stepsNow, envWritten, written) =>
                ReplayStepSource.Replan(wf, job, s, stepCtx with { Where = $"{where}: {StepName(s)}" }, env, stepsNow, envWritten, written, secretNames, inputs),
        };
    }

    /// <summary>How a secret value is rebuilt at launch; an error when it was computed in a way that cannot be repeated.</summary>
    internal static IReadOnlyList<SecretPart> Recipe(ExprValue v, string where) =>
        v.SecretParts ?? throw new ReplayException(
            $"{where}: the value is computed from a secret (with a function or operator); replay passes secrets to the guest " +
            "only as ${{ secrets.NAME }} references, optionally inside text: simplify the expression");

    internal static string Text(ExprValue v) => v.IsSecret ? SecretMaskText : v.ToString();

    private const string SecretMaskText = "***";

    internal static double Minutes(ExprValue v, string where)
    {
        double m = v.ToNumber();
        return m > 0 && double.IsFinite(m) ? m : throw new ReplayException($"{where}: '{v}' is not a positive number of minutes");
    }

    private static void Set(List<KeyValuePair<string, ExprValue>> env, IEnumerable<KeyValuePair<string, ExprValue>> values)
    {
        foreach (KeyValuePair<string, ExprValue> kv in values)
        {
            int at = env.FindIndex(e => e.Key == kv.Key);
            if (at >= 0)
            {
                env[at] = kv;
            }
            else
            {
                env.Add(kv);
            }
        }
    }

    internal static IReadOnlyList<MatrixCombination> Matrix(WorkflowJob job, ExprContext ctx)
    {
        if (job.Matrix is not { } m)
        {
            return [MatrixCombination.Empty];
        }

        IReadOnlyList<MatrixAxis> axes = m.Axes;
        var include = m.Include;
        var exclude = m.Exclude;
        if (m.Expression is { } whole)
        {
            ExprValue v = Template.Evaluate(whole, ctx);
            if (v.Kind != ExprKind.Object)
            {
                throw new ReplayException($"{ctx.Where}: the expression gives {v.Describe()}, not a mapping of keys to lists");
            }

            axes = [.. v.Members.Where(kv => kv.Key is not ("include" or "exclude"))
                .Select(kv => new MatrixAxis(kv.Key, kv.Value.Kind == ExprKind.Array ? kv.Value.Items : throw new ReplayException($"{ctx.Where}.{kv.Key}: not a list")))];
            include = Entries(v.Members.GetValueOrDefault("include"), ctx.Where + ".include");
            exclude = Entries(v.Members.GetValueOrDefault("exclude"), ctx.Where + ".exclude");
        }

        axes = [.. axes.Select(a => a.Expression is { } e
            ? new MatrixAxis(a.Key, Template.Evaluate(e, ctx with { Where = $"{ctx.Where}.{a.Key}" }) is { Kind: ExprKind.Array } list
                ? list.Items
                : throw new ReplayException($"{ctx.Where}.{a.Key}: the expression does not give a list"))
            : a with { Values = [.. a.Values.SelectMany(v => Splice(v, ctx with { Where = $"{ctx.Where}.{a.Key}" }))] })];
        include = [.. include.Select(e => (IReadOnlyList<KeyValuePair<string, ExprValue>>)[.. e.Select(kv => KeyValuePair.Create(kv.Key, Resolve(kv.Value, ctx)))])];
        exclude = [.. exclude.Select(e => (IReadOnlyList<KeyValuePair<string, ExprValue>>)[.. e.Select(kv => KeyValuePair.Create(kv.Key, Resolve(kv.Value, ctx)))])];
        return MatrixExpander.Expand(axes, include, exclude, ctx.Where);
    }

    private static IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> Entries(ExprValue? v, string where) => v switch
    {
        null or { Kind: ExprKind.Null } => [],
        { Kind: ExprKind.Array } a => [.. a.Items.Select(i => i.Kind == ExprKind.Object
            ? (IReadOnlyList<KeyValuePair<string, ExprValue>>)[.. i.Members]
            : throw new ReplayException($"{where}: entries must be mappings"))],
        _ => throw new ReplayException($"{where}: must be a list of mappings"),
    };

    /// <summary>An item of a matrix list; one that is a lone expression giving a list (fromJSON) is spliced into the list.</summary>
    private static IReadOnlyList<ExprValue> Splice(ExprValue v, ExprContext ctx) =>
        v.Kind == ExprKind.String && v.AsString.Trim().StartsWith(Template.Open, StringComparison.Ordinal) && Resolve(v, ctx) is { Kind: ExprKind.Array } list
            ? list.Items
            : [Resolve(v, ctx)];

    /// <summary>A matrix value written with <c>${{ }}</c> inside is evaluated (workflow-level contexts).</summary>
    private static ExprValue Resolve(ExprValue v, ExprContext ctx) => v.Kind switch
    {
        ExprKind.String when Template.HasExpressions(v.AsString) => Template.Evaluate(v.AsString, ctx),
        ExprKind.Array => ExprValue.Array([.. v.Items.SelectMany(i => Splice(i, ctx))]),
        ExprKind.Object => ExprValue.Object(v.Members.SelectMany<KeyValuePair<string, ExprValue>, KeyValuePair<string, ExprValue>>(kv => IsInsert(kv.Key)
            ? Resolve(kv.Value, ctx) is { Kind: ExprKind.Object } inserted
                ? inserted.Members
                : throw new ReplayException($"{ctx.Where}: ${{{{ insert }}}} must be given a mapping")
            : [KeyValuePair.Create(kv.Key, Resolve(kv.Value, ctx))])),
        _ => v,
    };

    /// <summary>A mapping key <c>${{ insert }}</c>: GitHub's template directive that merges its value (a mapping) into the parent.</summary>
    private static bool IsInsert(string key) =>
        key.StartsWith(Template.Open, StringComparison.Ordinal) && key.EndsWith(Template.Close, StringComparison.Ordinal) &&
        key[Template.Open.Length..^Template.Close.Length].Trim().Equals("insert", StringComparison.Ordinal);

    /// <summary>The secrets context: given secrets by name; referenced-but-missing ones are empty (and reported).</summary>
    private static (ExprValue Context, IReadOnlyList<string> Required, IReadOnlyList<string> Missing) Secrets(Workflow wf, WorkflowJob job, ReplayInputs inputs, string where)
    {
        List<string> required = [];
        foreach ((string source, string field, bool condition) in Templates(wf, job))
        {
            if (!condition && !Template.HasExpressions(source))
            {
                continue;
            }

            IEnumerable<Expr> exprs = condition
                ? [Template.ParseCondition(source, $"{where}: {field}")]
                : Template.Parse(source, $"{where}: {field}").Select(p => p.Expression).OfType<Expr>();
            foreach (string? name in exprs.SelectMany(ExprTree.SecretNames))
            {
                if (name is null)
                {
                    throw new ReplayException($"{where}: {field}: secrets[…] with a computed name is not supported by replay; name the secret (secrets.NAME)");
                }

                string canonical = inputs.Secrets.Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;
                if (!required.Contains(canonical, StringComparer.OrdinalIgnoreCase))
                {
                    required.Add(canonical);
                }
            }
        }

        List<string> missing = [.. required.Where(r => !inputs.Secrets.ContainsKey(r))];
        IEnumerable<KeyValuePair<string, ExprValue>> values = inputs.Secrets.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.Secret(kv.Key, kv.Value)))
            .Concat(missing.Select(m => KeyValuePair.Create(m, ExprValue.Secret(m, ""))));
        return (ExprValue.Object(values).AsOpaqueSecret(), required, missing);
    }

    /// <summary>Every string of the job (and the workflow env) that may hold expressions, with its field name.</summary>
    private static IEnumerable<(string Source, string Field, bool Condition)> Templates(Workflow wf, WorkflowJob job)
    {
        foreach ((string k, string v) in wf.Env) yield return (v, $"env.{k}", false);
        if (job.Name is { } n) yield return (n, "name", false);
        foreach (string r in job.RunsOn) yield return (r, "runs-on", false);
        if (job.If is { } i) yield return (i, "if", true);
        if (job.TimeoutMinutes is { } t) yield return (t, "timeout-minutes", false);
        foreach ((string k, string v) in job.Env) yield return (v, $"env.{k}", false);
        foreach (WorkflowStep s in job.Steps)
        {
            string p = StepName(s) + ": ";
            if (s.Name is { } sn) yield return (sn, p + "name", false);
            if (s.Run is { } run) yield return (run, p + "run", false);
            if (s.If is { } si) yield return (si, p + "if", true);
            if (s.WorkingDirectory is { } wd) yield return (wd, p + "working-directory", false);
            if (s.Shell is { } sh) yield return (sh, p + "shell", false);
            if (s.ContinueOnError is { } c) yield return (c, p + "continue-on-error", false);
            if (s.TimeoutMinutes is { } st) yield return (st, p + "timeout-minutes", false);
            foreach ((string k, string v) in s.Env) yield return (v, $"{p}env.{k}", false);
            foreach ((string k, string v) in s.With) yield return (v, $"{p}with.{k}", false);
        }
    }

    /// <summary>Whether an expression of the step reads the steps context (its values exist only once earlier steps ran).</summary>
    private static bool ReadsStepsContext(WorkflowStep s) =>
        ((string?[])[s.Run, s.If, s.Name, s.WorkingDirectory, s.ContinueOnError, .. s.Env.Select(kv => kv.Value), .. s.With.Select(kv => kv.Value)])
        .Any(t => t is not null && t.Contains("${{", StringComparison.Ordinal) | t == s.If && t.Contains("steps.", StringComparison.Ordinal));

    /// <summary>Whether any expression of the step (if:, name, run, env, with, working-directory) reads the env context.</summary>
    private static bool ReadsEnv(WorkflowStep s)
    {
        IEnumerable<Expr> exprs = new[] { s.Name, s.Run, s.WorkingDirectory }.Concat(s.Env.Select(kv => kv.Value)).Concat(s.With.Select(kv => kv.Value))
            .OfType<string>().Where(Template.HasExpressions)
            .SelectMany(t => Template.Parse(t, "step")).Select(p => p.Expression).OfType<Expr>();
        if (s.If is { } cond && cond.Trim().Length > 0)
        {
            exprs = exprs.Append(Template.ParseCondition(cond, "step"));
        }

        return exprs.Any(e => ExprTree.Contexts(e).Contains("env"));
    }

    /// <summary>"step 2 (line 14)": how messages name a step.</summary>
    internal static string StepName(WorkflowStep s) => $"step {s.Number} (line {s.Mark.Line})";

    private static string RelativeTo(string root, string file)
    {
        string full = Path.GetFullPath(file);
        string rel = Path.GetRelativePath(Path.GetFullPath(root), full);
        return rel.StartsWith("..", StringComparison.Ordinal) ? full : rel;
    }
}
