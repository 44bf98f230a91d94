using Kindling.Testing;
using Kindling.Vmm.Api;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Tests.Api;

/// <summary>Any request may fail, never the VMM loop: an unforeseen exception becomes an internal-error answer, logged once.</summary>
public sealed class VmmControllerFaultTests
{
    [Fact]
    public void Handle_BackendThrowsUnexpectedly_AnswersInternalErrorLogsOnceAndStaysNotStarted()
    {
        var log = new CapturingLogger();
        var controller = new VmmController(new ExplodingBackend(), new MmdsDataStore(new FakeTimeProvider()), "vm", logger: log);
        Assert.True(controller.Handle(new ConfigureBootSource(new BootSourceConfig { KernelImagePath = "/k" })).IsSuccess);

        VmmOutcome outcome = controller.Handle(new StartMicroVm());

        Assert.False(outcome.IsSuccess);
        Assert.True(outcome.IsInternalError);
        Assert.Contains("StartMicroVm", outcome.FaultMessage, StringComparison.Ordinal);
        Assert.Contains("boom", outcome.FaultMessage, StringComparison.Ordinal);
        Assert.Equal(VmmState.NotStarted, controller.State);
        (LogLevel level, Exception? error) = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Error, level);
        Assert.IsType<InvalidOperationException>(error);
        Assert.True(controller.Handle(new GetInstanceInfo()).IsSuccess);
    }

    [Fact]
    public async Task ApiServer_ControllerInternalError_Answers500WithFaultMessageAndKeepsServing()
    {
        var controller = new VmmController(new ExplodingBackend(), new MmdsDataStore(new FakeTimeProvider()), "vm");
        var channel = new VmmActionChannel();
        Task loop = Task.Run(() => channel.RunAsync(controller, CancellationToken.None), TestContext.Current.CancellationToken);
        string dir = Directory.CreateTempSubdirectory("kapi").FullName;
        CancellationToken ct = TestContext.Current.CancellationToken;
        try
        {
            await using (ApiServer server = await ApiServer.StartAsync(Path.Combine(dir, "api.sock"), channel, null, ct))
            {
                await RawHttp.SendAsync(server.SocketPath, "PUT /boot-source HTTP/1.1\r\nContent-Length: 25\r\n\r\n{\"kernel_image_path\":\"k\"}", ct);

                RawHttp.Response failed = await RawHttp.SendAsync(server.SocketPath,
                    "PUT /actions HTTP/1.1\r\nContent-Length: 31\r\n\r\n{\"action_type\":\"InstanceStart\"}", ct);
                RawHttp.Response after = await RawHttp.SendAsync(server.SocketPath, "GET / HTTP/1.1\r\n\r\n", ct);

                Assert.Equal(500, failed.Status);
                Assert.Contains("internal error", failed.FaultMessage(), StringComparison.Ordinal);
                Assert.Equal(200, after.Status);
            }
        }
        finally
        {
            channel.Complete();
            await loop;
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class ExplodingBackend : IVmmBackend
    {
        public void Start(VmConfig config, MmdsDataStore mmds) => throw new InvalidOperationException("boom");

        public void Pause() => throw new InvalidOperationException("boom");

        public void Resume() => throw new InvalidOperationException("boom");

        public void SendCtrlAltDel() => throw new InvalidOperationException("boom");

        public void FlushMetrics() => throw new InvalidOperationException("boom");

        public void UpdateBlockDevice(string driveId, string? pathOnHost, RateLimiterConfig? rateLimiter) => throw new InvalidOperationException("boom");

        public void UpdateNetworkRateLimiters(string ifaceId, RateLimiterConfig? rx, RateLimiterConfig? tx) => throw new InvalidOperationException("boom");
    }

    private sealed class CapturingLogger : ILogger
    {
        public List<(LogLevel Level, Exception? Error)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, exception));
    }
}
