using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Logging;
using Microsoft.Extensions.Logging;

// CA1848: these tests drive the logger plumbing itself with ad-hoc messages; [LoggerMessage] is for product code.
#pragma warning disable CA1848

namespace Kindling.Vmm.Tests.Logging;

public sealed class VmmLoggerProviderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("klog").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Log_LevelFilterAndShowFlags_WritesFormattedLines()
    {
        string path = Path.Combine(_dir, "vmm.log");
        using (var provider = new VmmLoggerProvider(
            new LoggerConfig { LogPath = path, Level = "warning", ShowLevel = true, ShowLogOrigin = true }, "vm-7", new FakeTimeProvider()))
        {
            ILogger logger = provider.CreateLogger("Kindling.Vmm.Api");
            logger.LogInformation("not shown");
            logger.LogWarning("disk {Name} is slow", "rootfs");
            logger.LogError("boom\nsecond line");
        }

        string[] lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        Assert.Equal("2026-01-01T00:00:00.0000000Z [vm-7] [Warn] [Kindling.Vmm.Api] disk rootfs is slow", lines[0]);
        Assert.EndsWith("[Error] [Kindling.Vmm.Api] boom second line", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Log_ModuleFilter_OnlyThatCategoryPrefix()
    {
        string path = Path.Combine(_dir, "vmm.log");
        using (var provider = new VmmLoggerProvider(new LoggerConfig { LogPath = path, Module = "Kindling.Vmm.Mmds" }, "vm", new FakeTimeProvider()))
        {
            provider.CreateLogger("Kindling.Vmm.Api").LogInformation("api");
            provider.CreateLogger("Kindling.Vmm.Mmds.Net").LogInformation("mmds");
        }

        Assert.EndsWith(" mmds", Assert.Single(File.ReadAllLines(path)), StringComparison.Ordinal);
    }

    [Fact]
    public void Log_LevelOff_WritesNothing()
    {
        string path = Path.Combine(_dir, "vmm.log");
        using (var provider = new VmmLoggerProvider(new LoggerConfig { LogPath = path, Level = "Off" }, "vm", new FakeTimeProvider()))
        {
            provider.CreateLogger("x").LogError("nope");
        }

        Assert.Empty(File.ReadAllText(path));
    }

    [Fact]
    public void Constructor_UnknownLevel_NamesTheField()
    {
        var e = Assert.Throws<VmConfigException>(() =>
            new VmmLoggerProvider(new LoggerConfig { LogPath = Path.Combine(_dir, "x"), Level = "Loud" }, "vm", new FakeTimeProvider()));

        Assert.Contains("logger.level", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_ToFifo_ReaderGetsTheLine()
    {
        string fifo = Fifo.Create(_dir, "log.fifo");
        using var provider = new VmmLoggerProvider(new LoggerConfig { LogPath = fifo }, "vm", new FakeTimeProvider());

        provider.CreateLogger("c").LogInformation("through the fifo");

        using var reader = new StreamReader(new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0));
        Assert.EndsWith("[vm] through the fifo", reader.ReadLine(), StringComparison.Ordinal);
    }
}
