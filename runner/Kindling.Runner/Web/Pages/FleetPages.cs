using System.Globalization;
using Kindling.Runner.Launch;
using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>The VMs, tenants and images pages: one table each.</summary>
public static class FleetPages
{
    private const int ShortHashChars = 12;
    private const long KibBytes = 1024;

    public static Html Vms(PageContext ctx, IReadOnlyList<VmView> vms) => Layout.Page(ctx, "VMs", H($"""
        <div class="page-head"><h1>VMs</h1><span class="sub">VMM processes on this host</span></div>
        <section class="panel">{Layout.Table(
            ["VM", "Job", "Tenant", "PID", "Uptime", "vCPUs", "Memory", "Resident", "Guest address", "Egress", "Bytes out / in"],
            vms.Select(v => H($"""
                <tr><td class="mono">{v.VmId}</td>
                <td>{(v.JobId is { } id ? H($"<a href=\"/jobs/{id}\">#{id}</a>") : Raw("<span class=\"tag\">not a live job here</span>"))}</td>
                <td>{v.Tenant ?? "—"}</td><td class="num">{v.Pid}</td><td class="num">{Fmt.Duration(v.UptimeSeconds)}</td>
                <td class="num">{(v.Vcpus is { } c ? c.ToString(CultureInfo.InvariantCulture) : "—")}</td>
                <td class="num">{(v.MemoryMib is { } m ? Fmt.Mib(m) : "—")}</td>
                <td class="num">{Fmt.Bytes(v.RssKib * KibBytes)}</td>
                <td class="mono">{v.Network?.GuestAddress ?? "—"}</td><td>{v.Network?.Policy ?? "—"}</td>
                <td class="num">{(v.Network is { } n ? $"{Fmt.Bytes(n.BytesOut)} / {Fmt.Bytes(n.BytesIn)}" : "—")}</td></tr>
                """)),
            "no VMs running", ["PID", "Uptime", "vCPUs", "Memory", "Resident", "Bytes out / in"])}</section>
        """), OverviewPage.RefreshSeconds);

    public static Html Tenants(PageContext ctx, IReadOnlyList<TenantView> tenants) => Layout.Page(ctx, "Tenants", H($"""
        <div class="page-head"><h1>Tenants</h1></div>
        <section class="panel">{Layout.Table(
            ["Tenant", "Forge", "Credential", "Secrets", "Weight", "VMs", "vCPUs", "Memory", "Queued"],
            tenants.Select(t => H($"""
                <tr><td><a href="/jobs?tenant={Uri.EscapeDataString(t.Name)}">{t.Name}</a>{When(!t.Configured, Raw("<span class=\"tag\">not in the config</span>"))}</td>
                <td>{t.ForgeKind}{(t.Organization is { } org ? H($"<div class=\"sub\">org {org}</div>") : Empty)}{t.Repositories.Select(r => H($"<div class=\"sub mono\">{r}</div>"))}</td>
                <td>{t.Credential}</td>
                <td>{(t.SecretNames.Count == 0 ? Raw("—") : Join(t.SecretNames.Select(s => H($"<div class=\"mono\">{s}</div>"))))}</td>
                <td class="num">{t.Weight}</td>
                <td class="num">{t.Vms} / {t.MaxVms}</td>
                <td class="num">{t.Vcpus} / {t.QuotaVcpus}</td>
                <td class="num">{Fmt.Mib(t.MemoryMib)} / {Fmt.Mib(t.QuotaMemoryMib)}</td>
                <td class="num">{t.Queued}</td></tr>
                """)),
            "no tenants", ["Weight", "VMs", "vCPUs", "Memory", "Queued"])}
        <p class="sub">Secret values and credentials are never shown here.</p></section>
        """));

    public static Html Images(PageContext ctx, IReadOnlyList<ImageFile> images) => Layout.Page(ctx, "Images", H($"""
        <div class="page-head"><h1>Images</h1><span class="sub">kernel, initramfs and base root filesystems shared by every VM</span></div>
        <section class="panel">{Layout.Table(
            ["Kind", "Name", "Size", "On disk", "SHA-256", "Created"],
            images.Select(i => H($"""
                <tr><td>{i.Kind}</td><td class="mono" title="{i.Path}">{i.Name}</td>
                <td class="num">{Fmt.Bytes(i.SizeBytes)}</td><td class="num">{Fmt.Bytes(i.AllocatedBytes)}</td>
                <td class="mono">{(i.Sha256 is { } h ? H($"<span title=\"{h}\">{h[..Math.Min(ShortHashChars, h.Length)]}…</span>") : Raw("—"))}</td>
                <td class="nowrap">{Fmt.Time(i.Created)}</td></tr>
                """)),
            "no images built yet: kindling images build", ["Size", "On disk"])}</section>
        """));
}
