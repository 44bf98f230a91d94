namespace Kindling.Runner.Replay.Workflows;

/// <summary>
/// Expands jobs that call reusable workflows (<c>jobs.&lt;id&gt;.uses</c>) into the callee's jobs, as GitHub runs and
/// shows them: each callee job becomes <c>caller/job</c>, its needs within the callee prefixed the same way, the
/// callee's first jobs needing what the caller needs. The calling job stays, needing every callee job: it stands for
/// the call (its result and <c>on.workflow_call.outputs</c>) in the needs of later jobs. A local callee is
/// <c>./path</c> from the repository; a remote one (<c>owner/repo/path@ref</c>) is read from the action cache
/// (<c>DIR/owner/repo/ref/path</c>). Calls nest at most <see cref="MaxDepth"/> deep, as on GitHub; a cycle is refused.
/// </summary>
public static class ReusableWorkflows
{
    /// <summary>GitHub's limit: a workflow and up to three levels of reusable workflows below it.</summary>
    public const int MaxDepth = 4;

    /// <summary>The workflow with its calls expanded; a call that cannot be read keeps its job, marked with the reason.</summary>
    public static Workflow Expand(Workflow wf, string repoRoot, string? actionCache)
    {
        if (wf.Jobs.All(j => j.Uses is null))
        {
            return wf;
        }

        List<string> stack = [wf.FullPath is { } f ? Path.GetFullPath(f) : wf.File];
        return wf with { Jobs = ExpandJobs(wf, wf.Jobs, repoRoot, actionCache, null, stack) };
    }

    private static List<WorkflowJob> ExpandJobs(Workflow wf, IReadOnlyList<WorkflowJob> jobs, string repoRoot, string? actionCache, ReusableCall? parent, List<string> stack)
    {
        List<WorkflowJob> result = [];
        foreach (WorkflowJob job in jobs)
        {
            if (job.Uses is not { } uses)
            {
                result.Add(job);
                continue;
            }

            string where = $"{wf.FileName}: jobs.{job.Id}.uses: {uses}";
            try
            {
                if (job.If is not null || job.Matrix is not null)
                {
                    throw new ReplayException($"{where}: {(job.If is not null ? "if:" : "strategy:")} on a job that calls a reusable workflow is not supported by replay yet");
                }

                string path = Resolve(uses, repoRoot, actionCache, where);
                if (stack.Contains(path, StringComparer.Ordinal))
                {
                    throw new ReplayException($"{where}: the reusable workflows call each other in a cycle ({string.Join(" -> ", stack.Append(path).Select(Path.GetFileName))}); GitHub refuses such a workflow");
                }

                if (stack.Count >= MaxDepth)
                {
                    throw new ReplayException($"{where}: reusable workflows nest more than {MaxDepth} levels deep ({string.Join(" -> ", stack.Append(path).Select(Path.GetFileName))}); GitHub allows at most {MaxDepth}");
                }

                Workflow callee;
                try
                {
                    callee = WorkflowParser.ParseFile(path, Path.GetRelativePath(repoRoot, path));
                }
                catch (WorkflowException e)
                {
                    throw new ReplayException($"{where}: {e.Message}", e);
                }

                if (!callee.Events.Contains("workflow_call", StringComparer.Ordinal))
                {
                    throw new ReplayException($"{where}: {callee.FileName} is not a reusable workflow (its on: has no workflow_call)");
                }

                string prefix = job.Id + "/";
                var call = new ReusableCall(job, callee, prefix, parent);
                stack.Add(path);
                List<WorkflowJob> inner = ExpandJobs(callee, callee.Jobs, repoRoot, actionCache, call, stack);
                stack.RemoveAt(stack.Count - 1);
                HashSet<string> innerIds = [.. inner.Select(j => j.Id)];
                List<WorkflowJob> expanded = [.. inner.Select(j => j with
                {
                    Id = prefix + j.Id,
                    Name = j.Name is { } n ? $"{job.Name ?? job.Id} / {n}" : null,
                    Needs = j.Needs.Count == 0 ? job.Needs : [.. j.Needs.Select(n => innerIds.Contains(n) ? prefix + n : n)],
                    CalleeJobs = [.. j.CalleeJobs.Select(c => prefix + c)],
                    Call = j.Call ?? call,
                })];
                result.AddRange(expanded);
                result.Add(job with { CalleeJobs = [.. expanded.Select(j => j.Id)], Needs = [.. expanded.Select(j => j.Id)], Outputs = callee.CallOutputs, Call = parent });
            }
            catch (ReplayException e)
            {
                result.Add(job with { CallError = e.Message, Call = parent });
            }
        }

        return result;
    }

    /// <summary>The callee's file: <c>./path</c> in the repository, or <c>owner/repo/path@ref</c> in the action cache.</summary>
    private static string Resolve(string uses, string repoRoot, string? actionCache, string where)
    {
        if (uses.StartsWith("./", StringComparison.Ordinal))
        {
            string local = Path.GetFullPath(Path.Combine(repoRoot, uses[2..]));
            return File.Exists(local) ? local : throw new ReplayException($"{where}: {uses[2..]} does not exist in the repository ({repoRoot})");
        }

        int at = uses.LastIndexOf('@');
        string[] parts = at < 0 ? [] : uses[..at].Split('/', 3);
        if (parts.Length < 3)
        {
            throw new ReplayException($"{where}: expected ./.github/workflows/FILE.yml or OWNER/REPO/.github/workflows/FILE.yml@REF");
        }

        if (actionCache is null)
        {
            throw new ReplayException($"{where}: a remote reusable workflow is not supported without --action-cache DIR (it is read from DIR/{parts[0]}/{parts[1]}/{uses[(at + 1)..]}/{parts[2]})");
        }

        string cached = Path.GetFullPath(Path.Combine(actionCache, parts[0], parts[1], uses[(at + 1)..], parts[2]));
        return File.Exists(cached) ? cached : throw new ReplayException($"{where}: a remote reusable workflow not in the action cache is not supported ({cached} does not exist)");
    }
}
