using System.Net.Sockets;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Launch;

public sealed class VmmLauncherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-launcher-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The API socket's file exists from bind(2) on, but connections are refused until listen(2): the launcher
    /// waits for an accepted connection, not for the file (its first PUT was once refused under load).
    /// </summary>
    [Fact]
    public async Task Accepts_SocketBoundNotListening_FalseUntilListening()
    {
        string path = Path.Combine(_dir, "api.sock");
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));

        Assert.False(await VmmLauncher.AcceptsAsync(path, TestContext.Current.CancellationToken));
        server.Listen();
        Assert.True(await VmmLauncher.AcceptsAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Accepts_NoSocketFile_False() =>
        Assert.False(await VmmLauncher.AcceptsAsync(Path.Combine(_dir, "missing.sock"), TestContext.Current.CancellationToken));
}
