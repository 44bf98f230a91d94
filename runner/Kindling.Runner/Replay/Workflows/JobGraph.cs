namespace Kindling.Runner.Replay.Workflows;

/// <summary>The <c>needs:</c> graph of a workflow's jobs: cycles, dependency order, and what a selection pulls in.</summary>
public static class JobGraph
{
    /// <summary>A cycle as job ids (first repeated at the end), or null when the needs form none.</summary>
    public static IReadOnlyList<string>? FindCycle(IReadOnlyList<WorkflowJob> jobs)
    {
        Dictionary<string, WorkflowJob> byId = jobs.ToDictionary(j => j.Id, StringComparer.Ordinal);
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 visiting, 2 done
        var path = new List<string>();

        IReadOnlyList<string>? Visit(string id)
        {
            if (state.GetValueOrDefault(id) == 2 || !byId.TryGetValue(id, out WorkflowJob? job))
            {
                return null;
            }

            if (state.GetValueOrDefault(id) == 1)
            {
                return [.. path[path.IndexOf(id)..], id];
            }

            state[id] = 1;
            path.Add(id);
            foreach (string need in job.Needs)
            {
                if (Visit(need) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[id] = 2;
            return null;
        }

        foreach (WorkflowJob j in jobs)
        {
            if (Visit(j.Id) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }

    /// <summary>
    /// The jobs in dependency order (each after everything it needs), stable: among jobs that are ready at the same
    /// time, file order. Needs that name no job are ignored here (the parser refuses them).
    /// </summary>
    public static IReadOnlyList<WorkflowJob> Order(IReadOnlyList<WorkflowJob> jobs)
    {
        List<WorkflowJob> ordered = [];
        var done = new HashSet<string>(StringComparer.Ordinal);
        var ids = jobs.Select(j => j.Id).ToHashSet(StringComparer.Ordinal);
        while (ordered.Count < jobs.Count)
        {
            WorkflowJob? next = jobs.FirstOrDefault(j => !done.Contains(j.Id) && j.Needs.All(n => done.Contains(n) || !ids.Contains(n)));
            if (next is null)
            {
                throw new InvalidOperationException("the needs: graph has a cycle (the parser should have refused it)");
            }

            ordered.Add(next);
            done.Add(next.Id);
        }

        return ordered;
    }

    /// <summary>The jobs <paramref name="jobId"/> needs, directly or not, and itself, in dependency order.</summary>
    public static IReadOnlyList<WorkflowJob> WithNeeds(IReadOnlyList<WorkflowJob> jobs, string jobId)
    {
        Dictionary<string, WorkflowJob> byId = jobs.ToDictionary(j => j.Id, StringComparer.Ordinal);
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([jobId]);
        while (stack.TryPop(out string? id))
        {
            if (wanted.Add(id) && byId.TryGetValue(id, out WorkflowJob? j))
            {
                foreach (string n in j.Needs)
                {
                    stack.Push(n);
                }
            }
        }

        return [.. Order(jobs).Where(j => wanted.Contains(j.Id))];
    }
}
