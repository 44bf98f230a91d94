using System.Text;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>One step of a replayed job: its env, name, if:, shell, working directory and script, resolved.</summary>
internal static class StepPlanner
{
    public const string CheckoutAction = "actions/checkout";

    public static PlannedStep Plan(Workflow wf, WorkflowJob job, WorkflowStep s, ExprContext ctx, IReadOnlyList<KeyValuePair<string, ExprValue>> jobEnv,
        GuestSecretNames secretNames, ReplayInputs inputs, List<string> warnings) =>
        PlanAll(wf, job, s, ctx, jobEnv, secretNames, inputs, warnings, 0).Single(p => p.Stage == PlannedStepStage.Main);

    /// <summary>
    /// The planned steps of a workflow step: one, or a composite action's steps (<paramref name="depth"/>: nesting;
    /// <paramref name="written"/>: local actions written at run time, read back from the guest, see <see cref="RuntimeActions"/>).
    /// </summary>
    public static IReadOnlyList<PlannedStep> PlanAll(Workflow wf, WorkflowJob job, WorkflowStep s, ExprContext ctx, IReadOnlyList<KeyValuePair<string, ExprValue>> jobEnv,
        GuestSecretNames secretNames, ReplayInputs inputs, List<string> warnings, int depth, IReadOnlyDictionary<string, string>? written = null)
    {
        string where = ctx.Where;
        ExprContext At(string field) => ctx with { Where = $"{where}: {field}" };

        var plainEnv = new Dictionary<string, string>(StringComparer.Ordinal);
        List<string> secretEnv = [];
        var ifEnv = new List<KeyValuePair<string, ExprValue>>(jobEnv);
        foreach ((string k, string v) in s.Env)
        {
            ExprValue value = Template.Evaluate(v, At($"env.{k}"));
            ifEnv.RemoveAll(kv => kv.Key == k);
            ifEnv.Add(KeyValuePair.Create(k, value));
            if (value.IsSecret)
            {
                secretNames.AddEnv(k, ReplayPlanner.Recipe(value, $"{where}: env.{k}"), $"{where}: env.{k}");
                secretEnv.Add(k);
            }
            else
            {
                plainEnv[k] = value.ToString();
            }
        }

        // The step's own env is in the env context of everything else it has (GitHub's "Hi ${{ env.mascot }}").
        ctx = ctx with { Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["env"] = ExprValue.Object(ifEnv) } };
        StepConditions cond = StepConditions.Evaluate(s.If, At("if"));
        string name = s.Name is { } n
            ? ReplayPlanner.Text(Template.Evaluate(n, At("name")))
            : "Run " + (s.Uses ?? FirstLine(s.Run!));

        bool continueOnError = false;
        if (s.ContinueOnError is { } coe)
        {
            ExprValue v = Template.Evaluate(coe, At("continue-on-error"));
            continueOnError = v.Kind == ExprKind.Boolean ? v.AsBoolean
                : v.ToString() is "true" or "false" ? v.ToString() == "true"
                : throw new ReplayException($"{where}: continue-on-error must be true or false, not {v.Describe()}");
        }

        List<string> notes = [];
        TimeSpan? timeout = null;
        if (s.TimeoutMinutes is { } tm)
        {
            // A run: step's own limit is enforced by the guest agent (it ends the step's processes); a uses: step's is not.
            double minutes = ReplayPlanner.Minutes(Template.Evaluate(tm, At("timeout-minutes")), $"{where}: timeout-minutes");
            timeout = TimeSpan.FromMinutes(minutes);
            if (s.Uses is not null)
            {
                warnings.Add($"step {s.Number}: timeout-minutes {ExprValue.FormatNumber(minutes)} is not enforced on a uses: step (the job's timeout is)");
            }
        }

        if (s.Uses is { } uses)
        {
            bool checkout = uses.StartsWith(CheckoutAction + "@", StringComparison.OrdinalIgnoreCase) || uses.Equals(CheckoutAction, StringComparison.OrdinalIgnoreCase);
            string message;
            string? reason = null;
            if (checkout)
            {
                if (CheckoutStep.Plan(s, uses, At, cond, name, continueOnError, inputs, warnings) is { } planned)
                {
                    return [planned];
                }

                message = $"kindling: {uses} is not run: {ReplayDefaults.GuestWorkspace} already holds the {inputs.WorkspaceDescription}";
            }
            else if (ActionSteps.Plan(wf, job, s, ctx, cond, name, secretNames, inputs, warnings, depth, written, out string why) is { } action)
            {
                return [.. action.Select(a => a with { Spec = a.Spec with { ContinueOnError = a.Spec.ContinueOnError || continueOnError } })];
            }
            else
            {
                reason = why;
                message = $"kindling: uses: {uses}: {why}; step skipped (--skip-uses)";
            }

            return
            [
                new PlannedStep
                {
                    Number = s.Number, Name = name, Kind = checkout ? PlannedStepKind.Checkout : PlannedStepKind.UnsupportedUses, Uses = uses, IfSource = s.If,
                    UnsupportedReason = reason,
                    Spec = new StepSpec { Name = name, Run = "echo '" + message.Replace("'", "", StringComparison.Ordinal) + "'", If = cond.AgentCondition, ContinueOnError = continueOnError },
                    Notes = notes,
                },
            ];
        }

        string? given = s.Shell is { } sh ? Literal(sh, At("shell")) : (job.Defaults.Shell ?? wf.Defaults.Shell) is { } d ? Literal(d, At("defaults.run.shell")) : null;
        // GitHub's default: bash on the runner where it exists, sh in a container job (whatever the image holds).
        string shell = given is null && inputs.InContainer ? ShellNames.Sh : ShellNames.ForAgent(given, inputs.Image, where);
        string? wd = s.WorkingDirectory ?? job.Defaults.WorkingDirectory ?? wf.Defaults.WorkingDirectory;
        string script = Script(s.Run!, At("run"), secretNames, plainEnv.Keys.ToHashSet(StringComparer.Ordinal));
        if (SecretPlaceholders.Any(script))
        {
            notes.Add($"the guest writes secret values into the script ({SecretPlaceholders.Shown} here) on a RAM filesystem, removed when the step ends");
        }

        if (CommandsIn(script) is { Count: > 0 } commands)
        {
            // read from standard output while the step runs (Logs/WorkflowCommandReader); set-env and add-path only where allowed
            notes.Add($"prints the workflow command{(commands.Count > 1 ? "s" : "")} {string.Join(", ", commands)} on standard output: applied after the step");
            bool allowed = ifEnv.Any(kv => kv.Key == UnsecureCommands && kv.Value.ToString().Trim().Equals("true", StringComparison.OrdinalIgnoreCase));
            if (!allowed && commands.Any(c => c is "::set-env" or "::add-path"))
            {
                warnings.Add($"step {s.Number}: ::set-env and ::add-path are disabled unless {UnsecureCommands}=true is in the step's env: " +
                             "GitHub fails the step; write to $GITHUB_ENV or $GITHUB_PATH instead");
            }
        }

        if (CustomShell.IsTemplate(shell))
        {
            (script, shell) = (CustomShell.Wrap(shell, script), ShellNames.Sh);
        }

        return
        [
            new PlannedStep
            {
                Number = s.Number, Name = name, Kind = PlannedStepKind.Run, IfSource = s.If, SecretEnv = secretEnv, Notes = notes,
                DefaultShell = s.Shell is null && job.Defaults.Shell is null && wf.Defaults.Shell is null,
                Spec = new StepSpec
                {
                    Name = name, Run = script, Shell = shell, WorkingDirectory = wd is null ? "" : Literal(wd, At("working-directory")),
                    If = cond.AgentCondition, ContinueOnError = continueOnError, Env = plainEnv, Timeout = timeout,
                },
            },
        ];
    }

    /// <summary>
    /// The script with its interpolations done. As on GitHub a secret's value goes into the script text, wherever it
    /// stands (single quotes, a quoted heredoc, a python script), but not here: the spec is stored and shown, so it
    /// holds a placeholder naming the guest secret (<see cref="SecretPlaceholders"/>), which the guest agent replaces
    /// by the value when the step starts. Text that would read as a placeholder is refused.
    /// </summary>
    private static string Script(string run, ExprContext ctx, GuestSecretNames secretNames, IReadOnlySet<string> stepPlainEnv)
    {
        var sb = new StringBuilder();
        foreach (TemplatePart p in Template.Parse(run, ctx.Where))
        {
            if (p.Expression is null)
            {
                sb.Append(NoPlaceholder(p.Text ?? "", ctx.Where, "its text"));
                continue;
            }

            ExprValue v = ExprEvaluator.Evaluate(p.Expression, ctx);
            if (!v.IsSecret)
            {
                sb.Append(NoPlaceholder(v.ToString(), ctx.Where, $"the value of ${{{{ {p.Source} }}}}"));
                continue;
            }

            sb.Append(SecretPlaceholders.For(secretNames.ForScript(ReplayPlanner.Recipe(v, ctx.Where), stepPlainEnv)));
        }

        return sb.ToString();
    }

    private static string NoPlaceholder(string text, string where, string what) =>
        SecretPlaceholders.Any(text)
            ? throw new ReplayException($"{where}: {what} holds '{SecretPlaceholders.Prefix}', which replay uses to mark where the guest writes a secret's value; the step cannot run as it is")
            : text;

    /// <summary>GitHub's stdout workflow commands that change state (<see cref="Logs.WorkflowCommandReader"/> reads them).</summary>
    private static readonly string[] StateCommands = ["::set-output", "::set-env", "::add-path", "::add-mask", "::save-state"];

    private const string UnsecureCommands = "ACTIONS_ALLOW_UNSECURE_COMMANDS";

    private static List<string> CommandsIn(string script) =>
        [.. StateCommands.Where(c => script.Contains(c + " ", StringComparison.Ordinal) || script.Contains(c + "::", StringComparison.Ordinal))];

    private static string Literal(string template, ExprContext ctx)
    {
        ExprValue v = Template.Evaluate(template, ctx);
        return v.IsSecret ? throw new ReplayException($"{ctx.Where}: a secret cannot be used here") : v.ToString();
    }

    private static string FirstLine(string run) =>
        run.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
}
