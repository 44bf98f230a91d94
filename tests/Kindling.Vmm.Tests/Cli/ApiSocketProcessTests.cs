using System.Diagnostics;
using System.Net.Sockets;
using Kindling.Vmm.Tests.Api;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>
/// Two kindling-vmm processes on one --api-sock (issue 18): the second refuses and leaves the first reachable,
/// as Firecracker does; a socket file nobody listens on is still taken over.
/// </summary>
public sealed class ApiSocketProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsock").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Process StartVmm(string socket) => Process.Start(new ProcessStartInfo(VmmProcess.ExecutablePath)
    {
        ArgumentList = { "--api-sock", socket },
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    })!;

    /// <summary>Waits (generously: CI is loaded) until the API answers GET /.</summary>
    private static async Task WaitForApiAsync(Process process, string socket)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                Assert.Fail($"kindling-vmm exited ({process.ExitCode}): " + await process.StandardError.ReadToEndAsync(Ct));
            }

            try
            {
                RawHttp.Response info = await RawHttp.SendAsync(socket, "GET / HTTP/1.1\r\n\r\n", Ct);
                Assert.Equal(200, info.Status);
                return;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100, Ct);
            }
        }
    }

    private static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync(Ct);
    }

    [Fact]
    public async Task Run_ApiSocketInUse_RefusesAndLeavesTheFirstReachable()
    {
        string socket = Path.Combine(_dir, "api.sock");
        using Process first = StartVmm(socket);
        try
        {
            await WaitForApiAsync(first, socket);

            VmmProcess.Result second = await VmmProcess.RunAsync(Ct, "--api-sock", socket);

            Assert.NotEqual(0, second.ExitCode);
            string line = Assert.Single(second.StderrLines);
            Assert.Equal($"kindling-vmm: {socket} is in use by another process; stop that process or choose another API socket path", line);
            Assert.True(File.Exists(socket));
            Assert.Equal(200, (await RawHttp.SendAsync(socket, "GET / HTTP/1.1\r\n\r\n", Ct)).Status);
        }
        finally
        {
            await StopAsync(first);
        }
    }

    [Fact]
    public async Task Run_StaleSocketOfAKilledVmm_IsReplaced()
    {
        string socket = Path.Combine(_dir, "api.sock");
        using (Process killed = StartVmm(socket))
        {
            await WaitForApiAsync(killed, socket);
            killed.Kill(); // SIGKILL: no chance to remove its socket file
            await killed.WaitForExitAsync(Ct);
        }

        Assert.True(File.Exists(socket), "a killed VMM leaves its socket file behind");
        using Process vmm = StartVmm(socket);
        try
        {
            await WaitForApiAsync(vmm, socket);
        }
        finally
        {
            await StopAsync(vmm);
        }
    }
}
