using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>Host capacity and use, the queue, jobs by state, tenants against their quotas, the latest jobs.</summary>
public static class OverviewPage
{
    public const int RefreshSeconds = 10;

    private static readonly string[] StateOrder = ["queued", "preparing", "booting", "running", "succeeded", "failed", "cancelled", "timed_out"];

    public static Html Render(PageContext ctx, OverviewView o)
    {
        HostView h = o.Host;
        QueueView q = o.Queue;
        Html content = H($"""
            <div class="page-head">
              <h1>Overview</h1>
              <span class="sub">{(h.Drained ? "drained: not taking jobs" : "taking jobs")}</span>
              <div class="actions">
                {(h.Drained
                    ? Layout.Action(ctx, "/host/undrain", "Undrain host", "primary")
                    : Layout.Action(ctx, "/host/drain", "Drain host", "", "Drain this host? Running jobs finish; queued jobs wait."))}
                {Layout.Action(ctx, "/host/reap", "Reap leftovers", "", "Remove leftovers of finished jobs (VMs, jails, TAPs, work directories, forge runners)?")}
              </div>
            </div>
            <div class="grid stats">
              <section class="panel"><h2>vCPUs</h2>
                <div class="stat">{h.UsedVcpus} <small>of {h.VcpuLimit} committed</small></div>{Fmt.Meter(h.UsedVcpus, h.VcpuLimit)}
                <div class="sub">{h.Vcpus} host vCPUs × {h.Oversubscription} oversubscription</div></section>
              <section class="panel"><h2>Memory</h2>
                <div class="stat">{Fmt.Mib(h.UsedMemoryMib)} <small>of {Fmt.Mib(h.MemoryMib)}</small></div>{Fmt.Meter(h.UsedMemoryMib, h.MemoryMib)}
                <div class="sub">never oversubscribed</div></section>
              <section class="panel"><h2>VMs</h2>
                <div class="stat">{h.RunningVms} <small>running</small></div>
                <div class="sub"><a href="/vms">VMM processes →</a></div></section>
              <section class="panel"><h2>Queue</h2>
                <div class="stat">{q.Queued} <small>waiting{(q.OldestWaitSeconds is { } w ? $", oldest {Fmt.Duration(w)}" : "")}</small></div>
                <div class="sub">wait before admission: median {Fmt.Duration(q.RecentMedianWaitSeconds)}, max {Fmt.Duration(q.RecentMaxWaitSeconds)} (last {q.RecentSamples})</div></section>
            </div>
            <section class="panel"><h2>Jobs by state</h2>
              <div class="states">{StateOrder.Select(s => H($"<a href=\"/jobs?state={s}\">{Fmt.State(s, s)}<b>{Fmt.Num(o.JobsByState.GetValueOrDefault(s))}</b></a>"))}</div>
            </section>
            <section class="panel"><h2>Tenants</h2>{TenantUsage(o.Tenants)}</section>
            {Snapshots(o.Snapshots)}
            {WarmPools(o.WarmPools)}
            <section class="panel"><h2>Latest jobs</h2>{JobsPage.Rows(o.Recent)}<div class="pager"><a href="/jobs">All jobs →</a></div></section>
            """);
        return Layout.Page(ctx, "Overview", content, RefreshSeconds);
    }

    /// <summary>Warm starts: each golden snapshot's key, size, age, use and failures (nothing when warm starts are off).</summary>
    internal static Html Snapshots(IReadOnlyList<Launch.Snapshots.SnapshotStatus>? snapshots) => snapshots is null ? Empty : H($"""
        <section class="panel" id="snapshots"><h2>Golden snapshots</h2>{Layout.Table(
            ["Key", "Image, kernel, template, size", "State", "Size", "Created", "Last use", "Restores", "Failures"],
            snapshots.Select(s => H($"""
                <tr><td><code>{s.Hash}</code></td><td>{s.Describe}</td>
                <td>{(s.Taking ? "taking" : s.Present ? "present" : "absent")}</td>
                <td class="num">{(s.Present ? Fmt.Mib((int)(s.Bytes >> 20)) : "")}</td>
                <td>{(s.Created is { } c ? Fmt.Time(c) : Empty)}</td><td>{(s.LastUse is { } u ? Fmt.Time(u) : Empty)}</td>
                <td class="num">{Fmt.Num(s.Uses)}</td><td class="num" title="{s.LastFailure ?? ""}">{Fmt.Num(s.Failures)}</td></tr>
                """)),
            "none yet: the first job of each kind cold-boots and takes one", ["Restores", "Failures", "Size"])}</section>
        """);

    /// <summary>Warm slots: per pool its target, ready and refilling slots, jobs that took one, and why it has none or its last refill error.</summary>
    internal static Html WarmPools(IReadOnlyList<Launch.Snapshots.WarmPoolStatus>? pools) => pools is null ? Empty : H($"""
        <section class="panel" id="warm-pools"><h2>Warm slots</h2>{Layout.Table(
            ["Pool", "Ready", "Refilling", "Taken", "Waiting", "Last refill error"],
            pools.Select(p => H($"""
                <tr><td>{p.Pool}</td><td>{p.Ready} / {p.Target}{Fmt.Meter(p.Ready, p.Target)}</td>
                <td class="num">{p.Refilling}</td><td class="num">{Fmt.Num(p.Taken)}</td><td>{p.Waiting ?? ""}</td>
                <td>{(p.LastError is { } e ? H($"{(p.LastErrorAt is { } at ? Fmt.Time(at) : Empty)} {e}{(p.RetryAt is { } r ? H($" (next try {Fmt.Time(r)})") : Empty)}") : Empty)}</td></tr>
                """)),
            "no pool keeps warm slots", ["Refilling", "Taken"])}</section>
        """);

    private static Html TenantUsage(IReadOnlyList<TenantView> tenants) => Layout.Table(
        ["Tenant", "VMs", "vCPUs", "Memory", "Queued"],
        tenants.Where(t => t.Configured).Select(t => H($"""
            <tr><td><a href="/jobs?tenant={Uri.EscapeDataString(t.Name)}">{t.Name}</a></td>
            <td>{t.Vms} / {t.MaxVms}{Fmt.Meter(t.Vms, t.MaxVms)}</td>
            <td>{t.Vcpus} / {t.QuotaVcpus}{Fmt.Meter(t.Vcpus, t.QuotaVcpus)}</td>
            <td>{Fmt.Mib(t.MemoryMib)} / {Fmt.Mib(t.QuotaMemoryMib)}{Fmt.Meter(t.MemoryMib, t.QuotaMemoryMib)}</td>
            <td class="num">{t.Queued}</td></tr>
            """)),
        "no tenants configured", ["Queued"]);
}
