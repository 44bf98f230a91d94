using Kindling.Testing;
using Kindling.Vmm.Api;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Logging;
using Kindling.Vmm.Mmds;
using Microsoft.Extensions.Logging;

// CA1848: these tests drive the logger plumbing itself with ad-hoc messages; [LoggerMessage] is for product code.
#pragma warning disable CA1848

namespace Kindling.Vmm.Tests.Cli;

/// <summary>
/// The serial, metrics and log outputs around a failed InstanceStart (issue 18): nothing stays bound to old paths,
/// nothing writes periodically while "Not started", and FlushMetrics works before boot once metrics are configured.
/// A missing kernel fails InstanceStart before KVM is touched, so none of this needs /dev/kvm.
/// </summary>
public sealed class MicroVmBackendTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmbackend").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly SwitchableLoggerProvider _fileLog = new();
    private readonly LoggerFactory _loggers;
    private readonly MicroVmBackend _backend;
    private readonly VmmController _controller;

    public MicroVmBackendTests()
    {
        _loggers = new LoggerFactory([_fileLog]);
        _backend = new MicroVmBackend(_loggers, _time, "vm", () => new FileSerialOutput(Path.Combine(_dir, "stdout")), _fileLog);
        _controller = new VmmController(_backend, new MmdsDataStore(_time), "vm");
        Ok(new ConfigureBootSource(new BootSourceConfig { KernelImagePath = Path.Combine(_dir, "missing-vmlinux") }));
    }

    public void Dispose()
    {
        _backend.Dispose();
        _loggers.Dispose();
        _fileLog.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private void Ok(VmmAction action)
    {
        VmmOutcome outcome = _controller.Handle(action);
        Assert.True(outcome.IsSuccess, outcome.FaultMessage);
    }

    private string FailedStart()
    {
        VmmOutcome outcome = _controller.Handle(new StartMicroVm());
        Assert.False(outcome.IsSuccess);
        Assert.False(outcome.IsInternalError, outcome.FaultMessage);
        Assert.Equal(VmmState.NotStarted, _controller.State);
        return outcome.FaultMessage!;
    }

    [Fact]
    public void FlushMetrics_BeforeStartAfterPutMetrics_WritesALine()
    {
        Ok(new ConfigureMetrics(new MetricsConfig { MetricsPath = PathOf("metrics.json") }));

        Ok(new FlushMetrics());

        Assert.Contains("utc_timestamp_ms", Assert.Single(File.ReadAllLines(PathOf("metrics.json"))), StringComparison.Ordinal);
    }

    [Fact]
    public void FlushMetrics_WithoutPutMetrics_SaysToPutMetricsFirst()
    {
        VmmOutcome outcome = _controller.Handle(new FlushMetrics());

        Assert.Contains("PUT /metrics first", outcome.FaultMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void PutMetrics_UnopenablePath_IsRefusedNamingTheField()
    {
        VmmOutcome outcome = _controller.Handle(new ConfigureMetrics(new MetricsConfig { MetricsPath = PathOf("no/such/dir/m.json") }));

        Assert.Contains("metrics.metrics_path", outcome.FaultMessage, StringComparison.Ordinal);
        Assert.Null(_controller.EffectiveConfig.Metrics);
    }

    [Fact]
    public void FailedStart_MetricsReporterDoesNotWriteWhileNotStarted()
    {
        Ok(new ConfigureMetrics(new MetricsConfig { MetricsPath = PathOf("metrics.json") }));

        Assert.Contains("kernel", FailedStart(), StringComparison.Ordinal);
        _time.Advance(TimeSpan.FromMinutes(5));

        Assert.Empty(File.ReadAllLines(PathOf("metrics.json")));
    }

    [Fact]
    public void FailedStart_LaterPutMetrics_TakesEffect()
    {
        Ok(new ConfigureMetrics(new MetricsConfig { MetricsPath = PathOf("m1.json") }));
        FailedStart();

        Ok(new ConfigureMetrics(new MetricsConfig { MetricsPath = PathOf("m2.json") }));
        Ok(new FlushMetrics());

        Assert.Empty(File.ReadAllLines(PathOf("m1.json")));
        Assert.Single(File.ReadAllLines(PathOf("m2.json")));
    }

    [Fact]
    public void FailedStart_LaterPutSerial_IsOpenedByTheNextStart()
    {
        Ok(new ConfigureSerial(new SerialConfig { SerialOutPath = PathOf("serial1.log") }));
        FailedStart();

        Ok(new ConfigureSerial(new SerialConfig { SerialOutPath = PathOf("serial2.log") }));
        FailedStart();

        Assert.True(File.Exists(PathOf("serial2.log")), "the second InstanceStart did not open the serial path PUT after the first failed");
    }

    [Fact]
    public void PutLogger_Twice_LinesGoToTheSecondFile()
    {
        ILogger log = _loggers.CreateLogger("test");
        Ok(new ConfigureLogger(new LoggerConfig { LogPath = PathOf("l1.log") }));
        log.LogWarning("first");

        Ok(new ConfigureLogger(new LoggerConfig { LogPath = PathOf("l2.log") }));
        log.LogWarning("second");
        _fileLog.Dispose();

        Assert.Contains("first", File.ReadAllText(PathOf("l1.log")), StringComparison.Ordinal);
        Assert.DoesNotContain("second", File.ReadAllText(PathOf("l1.log")), StringComparison.Ordinal);
        Assert.Contains("second", File.ReadAllText(PathOf("l2.log")), StringComparison.Ordinal);
    }
}
