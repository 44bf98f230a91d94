using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>A job of one of the loaded workflows.</summary>
public sealed record WorkflowJobRef(Workflow Workflow, WorkflowJob Job)
{
    public override string ToString() => $"{Job.Id} ({Workflow.FileName})";
}

/// <summary>
/// The workflows replay reads: one file (WORKFLOW.yml), or every *.yml/*.yaml directly in a directory (-W DIR,
/// default .github/workflows), as GitHub reads them. A broken file in a directory is reported, not fatal, unless
/// it was named itself.
/// </summary>
public sealed record WorkflowSet(IReadOnlyList<Workflow> Workflows, IReadOnlyList<WorkflowException> Broken)
{
    /// <summary>Loads <paramref name="path"/>; messages name files relative to <paramref name="displayBase"/> when below it.</summary>
    public static WorkflowSet Load(string path, string? displayBase = null)
    {
        string Show(string p)
        {
            if (displayBase is null) return p;
            string rel = Path.GetRelativePath(displayBase, Path.GetFullPath(p));
            return rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel) ? p : rel;
        }

        if (File.Exists(path))
        {
            return new WorkflowSet([WorkflowParser.ParseFile(path, Show(path))], []);
        }

        if (!Directory.Exists(path))
        {
            throw new ReplayException($"{path} does not exist; pass a workflow file, or -W with a directory of workflows (default {ReplayDefaults.DefaultWorkflowDirectory})");
        }

        string[] files = [.. Directory.EnumerateFiles(path)
            .Where(f => f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".yaml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
        if (files.Length == 0)
        {
            throw new ReplayException($"{path} holds no workflow files (*.yml, *.yaml)");
        }

        List<Workflow> ok = [];
        List<WorkflowException> broken = [];
        foreach (string f in files)
        {
            try
            {
                ok.Add(WorkflowParser.ParseFile(f, Show(f)));
            }
            catch (WorkflowException e)
            {
                broken.Add(e);
            }
        }

        return new WorkflowSet(ok, broken);
    }

    /// <summary>
    /// The workflows whose on: names <paramref name="eventName"/> (act plans only those for an event it is given); an
    /// error naming each workflow's events when none is.
    /// </summary>
    public WorkflowSet TriggeredBy(string eventName)
    {
        Workflow[] triggered = [.. Workflows.Where(w => w.Events.Contains(eventName, StringComparer.Ordinal))];
        return triggered.Length > 0
            ? this with { Workflows = triggered }
            : throw new ReplayException($"--event-name {eventName}: no workflow is triggered by {eventName} (" +
                                        string.Join("; ", Workflows.Select(w => $"{w.FileName} runs on {string.Join(", ", w.Events)}")) +
                                        "); name one of those events, or leave --event-name out to use the workflow's own");
    }

    public IReadOnlyList<WorkflowJobRef> Jobs => [.. Workflows.SelectMany(w => w.Jobs.Select(j => new WorkflowJobRef(w, j)))];

    /// <summary>The job with this id; an error listing the valid ids when there is none, or when several workflows have one.</summary>
    public WorkflowJobRef Find(string jobId)
    {
        WorkflowJobRef[] matches = [.. Jobs.Where(j => j.Job.Id == jobId)];
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new ReplayException($"no job '{jobId}' in {Describe()}; jobs: {string.Join(", ", Jobs.Select(Name))}"),
            _ => throw new ReplayException($"job '{jobId}' is in several workflows ({string.Join(", ", matches.Select(m => m.Workflow.FileName))}); pass the workflow file"),
        };
    }

    /// <summary>Job ids, with the file when several workflows are loaded.</summary>
    public string Name(WorkflowJobRef j) => Workflows.Count > 1 ? j.ToString() : j.Job.Id;

    /// <summary>act's -l: Stage (by needs), Job ID, Job name, Workflow name, Workflow file, Events.</summary>
    public IReadOnlyList<string[]> Listing()
    {
        List<(int Stage, int File, int Order, string[] Row)> rows = [];
        for (int f = 0; f < Workflows.Count; f++)
        {
            Workflow w = Workflows[f];
            for (int o = 0; o < w.Jobs.Count; o++)
            {
                WorkflowJob j = w.Jobs[o];
                int stage = Stage(w, j, []);
                rows.Add((stage, f, o, [stage.ToString(System.Globalization.CultureInfo.InvariantCulture), j.Id, j.Name ?? j.Id, w.Name, w.FileName, string.Join(",", w.Events)]));
            }
        }

        return [["Stage", "Job ID", "Job name", "Workflow name", "Workflow file", "Events"], .. rows.OrderBy(r => r.Stage).ThenBy(r => r.File).ThenBy(r => r.Order).Select(r => r.Row)];
    }

    private static int Stage(Workflow w, WorkflowJob j, HashSet<string> visiting)
    {
        if (j.Needs.Count == 0 || !visiting.Add(j.Id))
        {
            return 0; // a needs cycle is GitHub's error to report; it does not stop a listing
        }

        int stage = 1 + j.Needs.Select(n => w.Jobs.FirstOrDefault(x => x.Id == n) is { } dep ? Stage(w, dep, visiting) : 0).DefaultIfEmpty(0).Max();
        visiting.Remove(j.Id);
        return stage;
    }

    private string Describe() => Workflows.Count == 1 ? Workflows[0].FileName : $"{Workflows.Count} workflows";
}
