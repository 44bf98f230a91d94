using System.Globalization;
using Kindling.Runner.Jobs;
using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>The job list: filters by tenant, state and repository; keyset paging (newest first).</summary>
public static class JobsPage
{
    public const int PageSize = 50;

    public static Html Render(PageContext ctx, IReadOnlyList<JobView> page, bool more, JobSearch q, IReadOnlyList<string> tenants)
    {
        string state = q.State is { } s ? JobLifecycle.Name(s) : "";
        string Query(long? before) => string.Join('&', new[]
        {
            q.Tenant is { } t ? "tenant=" + Uri.EscapeDataString(t) : null,
            state.Length > 0 ? "state=" + state : null,
            q.Repository is { } r ? "repo=" + Uri.EscapeDataString(r) : null,
            before is { } b ? "before=" + b.ToString(CultureInfo.InvariantCulture) : null,
        }.OfType<string>());

        Html content = H($"""
            <div class="page-head"><h1>Jobs</h1></div>
            <section class="panel">
              <form class="filters" method="get" action="/jobs">
                <label>Tenant <select name="tenant"><option value="">all</option>{tenants.Select(t => H($"<option{When(t == q.Tenant, Raw(" selected"))}>{t}</option>"))}</select></label>
                <label>State <select name="state"><option value="">all</option>{Enum.GetValues<JobState>().Select(JobLifecycle.Name).Select(n => H($"<option{When(n == state, Raw(" selected"))}>{n}</option>"))}</select></label>
                <label>Repository <input name="repo" value="{q.Repository}" placeholder="owner/repo" size="18"></label>
                <button type="submit">Filter</button>
                {When(q.Tenant is not null || state.Length > 0 || q.Repository is not null, Raw("<a class=\"button\" href=\"/jobs\">Clear</a>"))}
              </form>
            </section>
            <section class="panel">
              {Rows(page)}
              <div class="pager">
                <span>{(q.BeforeId is null ? Empty : H($"<a href=\"/jobs?{Query(null)}\">← Newest</a>"))}</span>
                <span>{(more && page.Count > 0 ? H($"<a href=\"/jobs?{Query(page[^1].Id)}\" rel=\"next\">Older →</a>") : Empty)}</span>
              </div>
            </section>
            """);
        return Layout.Page(ctx, "Jobs", content);
    }

    public static Html Rows(IReadOnlyList<JobView> jobs) => Layout.Table(
        ["#", "State", "Tenant", "Source", "Repository", "Job", "Created", "Took", "Exit"],
        jobs.Select(j => H($"""
            <tr><td class="num"><a href="/jobs/{j.Id}">{j.Id}</a></td>
            <td>{Fmt.State(j.State, j.Result)}</td>
            <td>{j.Tenant}</td>
            <td class="source">{j.Forge}</td>
            <td>{j.Repository}</td>
            <td><a href="/jobs/{j.Id}">{j.Name}</a>{When(j.Attempt > 1, H($"<span class=\"tag\">attempt {j.Attempt}</span>"))}</td>
            <td class="nowrap">{Fmt.Time(j.CreatedAt)}</td>
            <td class="num">{(j.Result is "queued" or "preparing" or "booting" or "running" ? "…" : Fmt.Duration(j.UpdatedAt - j.CreatedAt))}</td>
            <td class="num">{(j.ExitCode is { } e ? e.ToString(CultureInfo.InvariantCulture) : "—")}</td></tr>
            """)),
        "no jobs match", ["#", "Took", "Exit"]);
}
