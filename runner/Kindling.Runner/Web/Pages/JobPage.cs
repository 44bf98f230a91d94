using System.Globalization;
using System.Text.Json;
using Kindling.Runner.Jobs;
using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>One job: summary, VM, steps with exit codes, the lifecycle timeline and the live log tail.</summary>
public static class JobPage
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Html Render(PageContext ctx, JobDetailView d)
    {
        JobView j = d.Job;
        Html content = H($"""
            <div class="page-head">
              <h1>#{j.Id} {j.Name}</h1>
              {Fmt.State(j.State, j.Result, "job-state")}
              <span class="sub">{j.Tenant} · {j.Repository}</span>
              <div class="actions">
                {When(d.Cancellable, Layout.Action(ctx, $"/jobs/{j.Id}/cancel", "Cancel job", "danger", $"Cancel job #{j.Id}? Its VM is stopped.", liveOnly: true))}
                {When(d.Rerunnable, Layout.Action(ctx, $"/jobs/{j.Id}/rerun", "Re-run", "primary"))}
                {When(d.RerunnableIfItFails, Layout.Action(ctx, $"/jobs/{j.Id}/rerun", "Re-run", "primary", rerunIfItFails: true))}
                {When(d.LogBytes is not null, H($"<a class=\"button\" href=\"/jobs/{j.Id}/log\" download>Download log ({Fmt.Bytes(d.LogBytes)})</a>"))}
              </div>
            </div>
            <div class="grid">
              <section class="panel"><h2>Job</h2><dl class="facts">
                <dt>Forge</dt><dd>{j.Forge} <span class="mono">{j.ForgeJobId}</span></dd>
                <dt>Labels</dt><dd>{string.Join(", ", j.Labels)}</dd>
                <dt>Attempt</dt><dd>{j.Attempt}</dd>
                <dt>Created</dt><dd>{Fmt.Time(j.CreatedAt)}</dd>
                <dt>Updated</dt><dd>{Fmt.Time(j.UpdatedAt)}</dd>
                <dt>Exit code</dt><dd>{(j.ExitCode is { } e ? e.ToString(CultureInfo.InvariantCulture) : "—")}</dd>
                {When(d.RunnerName is not null, H($"<dt>Runner</dt><dd class=\"mono\">{d.RunnerName}</dd>"))}
              </dl></section>
              <section class="panel"><h2>VM</h2><dl class="facts">
                <dt>VM id</dt><dd class="mono">{j.VmId ?? "—"}</dd>
                <dt>vCPUs</dt><dd>{j.Vcpus}</dd>
                <dt>Memory</dt><dd>{Fmt.Mib(j.MemoryMib)}</dd>
                <dt>VMM pid</dt><dd>{(d.VmmPid is { } pid ? pid.ToString(CultureInfo.InvariantCulture) : "—")}</dd>
                <dt>TAP</dt><dd class="mono">{d.TapName ?? "none"}</dd>
              </dl>
              {(d.VmConfig is { } cfg
                  ? H($"<details><summary>VM config (vm.json)</summary><pre class=\"config\">{cfg.ToJsonString(Indented)}</pre></details>")
                  : Raw("<p class=\"sub\">no VM config yet</p>"))}
              </section>
            </div>
            <div id="panels">{Panels(d)}</div>
            <section class="panel">
              <div class="log-head"><h2>Log</h2><span id="log-status">connecting…</span>
                <div class="right"><label><input type="checkbox" id="log-follow" checked> follow</label></div></div>
              <pre class="log" id="log" data-stream="/jobs/{j.Id}/log/stream" data-panels="/jobs/{j.Id}/panels" data-marker="{LogTail.MarkerPrefix}" aria-live="off"></pre>
            </section>
            """);
        return Layout.Page(ctx, $"Job #{j.Id}", content);
    }

    /// <summary>Steps and timeline; the live page re-fetches this fragment when the job's state changes.</summary>
    public static Html Panels(JobDetailView d)
    {
        DateTimeOffset start = d.Timeline.Count > 0 ? d.Timeline[0].At : d.Job.CreatedAt;
        bool finished = d.Job.Result is not ("queued" or "preparing" or "booting" or "running");
        return H($"""
            <div class="grid">
              <section class="panel" id="steps"><h2>Steps</h2>{Layout.Table(
                  ["#", "Step", "Exit", "Started", "Took"],
                  d.Steps.Select(s => H($"""
                      <tr data-step="{s.Number}" data-outcome="{s.Outcome ?? ""}"><td class="num">{Fmt.Step(s.Number)}</td><td>{s.Name}</td>
                      <td class="num">{StepResult(s, finished)}</td>
                      <td class="num">{(s.StartedAt is { } at ? H($"+{Fmt.Duration(at - start)}") : Raw("—"))}</td>
                      <td class="num">{Fmt.Duration(s.Seconds)}</td></tr>
                      """)),
                  "no steps (a forge runner job, or not started)", ["#", "Exit", "Started", "Took"])}</section>
              <section class="panel" id="timeline"><h2>Timeline</h2><ol class="timeline">{d.Timeline.Select(t => H($"""
                  <li><span class="when">+{Fmt.Duration(t.At - start)}</span>{(t.From is null ? Empty : H($"{Fmt.State(t.From, t.From)} → "))}{Fmt.State(t.To, t.To)}
                  <span class="reason">{t.Reason} · {Fmt.Time(t.At)}</span></li>
                  """))}</ol>{Phases(d.Phases)}</section>
            </div>
            """);
    }

    /// <summary>The VM's phases, each with the time since the one before (the first: since the job was prepared).</summary>
    internal static Html Phases(IReadOnlyList<Jobs.JobPhase> phases)
    {
        if (phases.Count == 0)
        {
            return Empty;
        }

        double before = 0;
        var items = new List<Html>();
        foreach (Jobs.JobPhase p in phases)
        {
            double took = p.AtMs - before;
            before = p.AtMs;
            items.Add(H($"<li><span class=\"when\">{took.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)} ms</span>{p.Name}</li>"));
        }

        return H($"""<h3>VM phases</h3><ol class="timeline" id="phases">{(IEnumerable<Html>)items}</ol>""");
    }

    /// <summary>A step of a finished job that never reported its end was stopped with the VM.</summary>
    private static Html StepResult(StepView s, bool jobFinished) => s switch
    {
        { Skipped: true } => Raw("<span class=\"badge\">skipped</span>"),
        { Pending: true } => Raw("<span class=\"tag\">pending</span>"),
        { Outcome: StepResults.Cancelled, ExitCode: { } e } => H($"<span class=\"badge s-cancelled\" title=\"the job was cancelled while it ran\">cancelled ({e})</span>"),
        { Outcome: StepResults.TimedOut, ExitCode: { } e } => H($"<span class=\"badge s-timed_out\" title=\"its timeout-minutes ended it\">timed out ({e})</span>"),
        { ExitCode: null } when jobFinished => Raw("<span class=\"badge s-cancelled\">stopped</span>"),
        { ExitCode: null } => Raw("<span class=\"badge s-running\">running</span>"),
        { ExitCode: 0 } => Raw("<span class=\"badge s-succeeded\">0</span>"),
        { ExitCode: { } e } => H($"<span class=\"badge s-failed\">{e}</span>"),
    };
}
