using System.Text;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Replay;

/// <summary>
/// The dry run (-n): what each selected job would run, resolved, without booting. Deterministic for given inputs
/// (no times, no ids, no paths outside the plan), so it can be compared with stored snapshots. Never prints a secret
/// value: secret-derived variables are shown as ***.
/// </summary>
public static class DryRunPrinter
{
    private const string Indent = "  ";
    private const string ScriptIndent = "      | ";
    private const int WrapWidth = 110;

    public static string Print(IReadOnlyList<ReplayJobPlan> plans)
    {
        var sb = new StringBuilder();
        foreach (ReplayJobPlan p in plans)
        {
            Print(sb, p);
        }

        return sb.ToString();
    }

    private static void Print(StringBuilder sb, ReplayJobPlan p)
    {
        JobSpec spec = p.Spec;
        sb.Append("job ").Append(p.Job.Id).Append(": ").Append(p.DisplayName);
        if (!p.Matrix.IsEmpty)
        {
            sb.Append($"  [matrix {p.Index}/{p.Total}: {p.Matrix}]");
        }

        sb.Append('\n');
        Line(sb, "workflow", $"{p.Workflow.Name} ({spec.Origin?.WorkflowFile ?? p.Workflow.FileName})");
        Line(sb, "runs-on", $"{string.Join(", ", p.Labels)} -> Kindling image {spec.Origin?.Image}");
        Line(sb, "workspace", $"{spec.Origin?.WorkspaceSource} -> {ReplayDefaults.GuestWorkspace}");
        Line(sb, "timeout", Minutes(spec.Timeout ?? ReplayDefaults.DefaultJobTimeout));
        if (p.Job.Needs.Count > 0)
        {
            Line(sb, "needs", $"{string.Join(", ", p.Job.Needs)} (runs after them, each in its own VM; their outputs are shown as <needs.JOB.outputs.NAME>)");
        }

        if (p.Total > 1)
        {
            Line(sb, "strategy", $"fail-fast {(p.FailFast ? "true" : "false")}, at most {p.MaxParallel} of {p.Total} at a time");
        }

        if (p.Job.Outputs.Count > 0)
        {
            Line(sb, "outputs", string.Join(", ", p.Job.Outputs.Select(o => $"{o.Key} = {o.Value}")) + " (evaluated after the job)");
        }

        if (p.SkipReason is { } skip)
        {
            Line(sb, "skipped", $"the job does not run: {skip}");
        }

        if (p.SetupError is { } setup)
        {
            Line(sb, "fails", $"the job fails at set-up, before its first step: {setup}");
        }

        if (p.Steps.FirstOrDefault(s => s.DefaultShell) is { } defaultShell)
        {
            Line(sb, "shell", defaultShell.Spec.Shell == ShellNames.Bash
                ? "bash where a step sets none (GitHub's default where bash exists)"
                : p.Container is not null ? "sh where a step sets none (GitHub's default in a container job)"
                : "sh where a step sets none (the minimal image has no bash; --image debian for bash)");
        }

        if (p.RequiredSecrets.Count > 0)
        {
            Line(sb, "secrets", string.Join(", ", p.RequiredSecrets.Select(s => p.MissingSecrets.Contains(s) ? s + " (missing)" : s + " (given)")));
        }

        sb.Append(Indent).Append(spec.Env.Count == 0 && p.SecretEnv.Count == 0 ? "env: none\n" : "env:\n");
        foreach ((string k, string v) in spec.Env.Where(kv => !p.DefaultEnvNames.Contains(kv.Key)))
        {
            EnvLine(sb, k, v);
        }

        foreach (string k in p.SecretEnv)
        {
            EnvLine(sb, k, "*** (from secrets)");
        }

        string[] defaults = [.. p.DefaultEnvNames.Where(spec.Env.ContainsKey).Select(n => $"{n}={spec.Env[n]}")];
        if (defaults.Length > 0)
        {
            // GitHub's own variables, wrapped: they are the same for every job of a replay.
            string lead = Indent + Indent + "GitHub defaults: ";
            var line = new StringBuilder(lead);
            foreach (string d in defaults)
            {
                if (line.Length > lead.Length && line.Length + 1 + d.Length > WrapWidth)
                {
                    sb.Append(line.ToString().TrimEnd()).Append('\n');
                    line.Clear().Append(' ', lead.Length);
                }

                line.Append(d).Append(' ');
            }

            sb.Append(line.ToString().TrimEnd()).Append('\n');
        }

        sb.Append(Indent).Append("steps:\n");
        foreach (PlannedStep s in p.Steps)
        {
            StepSpec st = s.Spec;
            sb.Append(Indent).Append($"{s.Number}. {s.Name}");
            switch (s.Kind)
            {
                case PlannedStepKind.Checkout when s.CheckoutTree is null && s.StageAction is null:
                    sb.Append($"  [{s.Uses}: not run, the workspace is already there]");
                    break;
                case PlannedStepKind.Checkout:
                    sb.Append($"  [{s.Uses}: copies a tree staged before the job starts]");
                    break;
                case PlannedStepKind.UnsupportedUses:
                    sb.Append($"  [uses: {s.Uses}: NOT SUPPORTED: {s.UnsupportedReason ?? "not supported yet"}]");
                    break;
                case PlannedStepKind.LoadAction:
                    sb.Append($"  [uses: {s.Uses}: loaded when the step runs, written by an earlier step]");
                    break;
                default:
                    sb.Append($"  [{st.Shell}");
                    if (st.WorkingDirectory.Length > 0)
                    {
                        sb.Append($", in {st.WorkingDirectory}");
                    }

                    if (st.ContinueOnError)
                    {
                        sb.Append(", continue-on-error");
                    }

                    sb.Append(']');
                    break;
            }

            sb.Append('\n');
            if (s.IfSource is { } cond || st.If != StepConditions.Success)
            {
                string runs = st.If switch
                {
                    StepConditions.Always => "always runs",
                    StepConditions.Failure => "runs only after a failure",
                    StepConditions.Never => "never runs",
                    _ => "runs while nothing failed",
                };
                sb.Append(Indent).Append(Indent).Append(Indent).Append($"if: {s.IfSource?.Trim() ?? "(none)"} -> {st.If} ({runs})\n");
            }

            foreach ((string k, string v) in st.Env)
            {
                sb.Append(Indent).Append(Indent).Append(Indent).Append($"env {k}={Quote(v)}\n");
            }

            foreach (string k in s.SecretEnv)
            {
                sb.Append(Indent).Append(Indent).Append(Indent).Append($"env {k}=*** (from secrets)\n");
            }

            foreach (string note in s.Notes)
            {
                sb.Append(Indent).Append(Indent).Append(Indent).Append($"note: {note}\n");
            }

            if (s.Kind == PlannedStepKind.Run)
            {
                foreach (string line in SecretPlaceholders.Masked(st.Run).TrimEnd('\n').Split('\n'))
                {
                    sb.Append(ScriptIndent).Append(line).Append('\n');
                }
            }
        }

        foreach (string w in p.Warnings)
        {
            sb.Append(Indent).Append("warning: ").Append(w).Append('\n');
        }

        sb.Append('\n');
    }

    private static void Line(StringBuilder sb, string key, string value) => sb.Append(Indent).Append(key).Append(": ").Append(value).Append('\n');

    private static void EnvLine(StringBuilder sb, string k, string v) => sb.Append(Indent).Append(Indent).Append(k).Append('=').Append(Quote(v)).Append('\n');

    private static string Quote(string v) => v.Contains('\n', StringComparison.Ordinal) ? v.Replace("\n", "\\n", StringComparison.Ordinal) : v;

    private static string Minutes(TimeSpan t) => $"{t.TotalMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture)} min";
}
