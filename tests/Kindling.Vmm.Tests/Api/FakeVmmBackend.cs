using Kindling.Vmm.Api;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Api;

/// <summary>Records what the controller asked for; can be told to refuse the next start.</summary>
internal sealed class FakeVmmBackend : IVmmBackend
{
    public List<string> Calls { get; } = [];

    public VmConfig? StartedWith { get; private set; }

    public string? RefuseStartWith { get; set; }

    public void Start(VmConfig config, MmdsDataStore mmds)
    {
        if (RefuseStartWith is not null)
        {
            throw new VmmActionException(RefuseStartWith);
        }

        StartedWith = config;
        Calls.Add("Start");
    }

    public void Pause() => Calls.Add("Pause");

    public void Resume() => Calls.Add("Resume");

    public void SendCtrlAltDel() => Calls.Add("SendCtrlAltDel");

    public void FlushMetrics() => Calls.Add("FlushMetrics");

    public void UpdateBlockDevice(string driveId, string? pathOnHost, RateLimiterConfig? rateLimiter) =>
        Calls.Add($"UpdateBlockDevice {driveId} {pathOnHost}");

    public void UpdateNetworkRateLimiters(string ifaceId, RateLimiterConfig? rx, RateLimiterConfig? tx) =>
        Calls.Add($"UpdateNetworkRateLimiters {ifaceId} rx={rx?.Bandwidth?.Size} tx={tx?.Bandwidth?.Size}");
}
