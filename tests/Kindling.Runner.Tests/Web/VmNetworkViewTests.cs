using Kindling.Runner.Network;
using Kindling.Runner.Web;
using Kindling.Runner.Web.Pages;

namespace Kindling.Runner.Tests.Web;

/// <summary>The VMs page's guest network columns: address, egress policy, bytes out / in (nft counters).</summary>
public sealed class VmNetworkViewTests
{
    private static readonly PageContext Context = new("admin", "admin", "csrf", "/vms", null, new HostView(4, 4, 4096, 1, 1, 256, 1, false, null));

    [Fact]
    public void Vms_VmOnTheGuestNetwork_ShowsAddressPolicyAndBytes()
    {
        var vm = new VmView("vm-7", 4242, 12, 7, "acme", 1, 256, 2048)
        {
            Network = new GuestVmStatus("kt7", "172.16.0.30", "allow 203.0.113.0/24:443", 5_000_000, 123),
        };

        string page = FleetPages.Vms(Context, [vm]).ToString();

        Assert.Contains("172.16.0.30", page, StringComparison.Ordinal);
        Assert.Contains("allow 203.0.113.0/24:443", page, StringComparison.Ordinal);
        Assert.Contains($"{Fmt.Bytes(5_000_000)} / {Fmt.Bytes(123)}", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Vms_VmWithoutNetwork_ShowsDashes()
    {
        string page = FleetPages.Vms(Context, [new VmView("vm-8", 4243, 12, 8, "acme", 1, 256, 2048)]).ToString();

        Assert.DoesNotContain("172.16.", page, StringComparison.Ordinal);
        Assert.Contains($"<td class=\"mono\">{System.Text.Encodings.Web.HtmlEncoder.Default.Encode("—")}</td>", page, StringComparison.Ordinal);
    }
}
