using Kindling.Testing;
using Kindling.Vmm.Tests.Machine;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>kindling-vmm as a process: each failure exits non-zero with exactly one "kindling-vmm: ..." line.</summary>
public sealed class CliProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-cli-test").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config(string json)
    {
        string path = Path.Combine(_dir, $"vm-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private string ExistingKernel()
    {
        string path = Path.Combine(_dir, "vmlinux");
        File.WriteAllBytes(path, [0x7f, (byte)'E', (byte)'L', (byte)'F']);
        return path;
    }

    private static async Task<VmmProcess.Result> RunConfig(string config) =>
        await VmmProcess.RunAsync(TestContext.Current.CancellationToken, "--no-api", "--config-file", config);

    private static void AssertOneLineFailure(VmmProcess.Result result, string expectedFragment)
    {
        Assert.NotEqual(0, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith("kindling-vmm: ", line, StringComparison.Ordinal);
        Assert.Contains(expectedFragment, line, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Run_BadJson_FailsNamingTheFileAndPosition()
    {
        string config = Config("{\"boot-source\": {\"kernel_image_path\": ");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, $"config file {config}: invalid JSON");
    }

    [Fact]
    public async Task Run_UnknownField_FailsNamingTheField()
    {
        string config = Config($"{{\"boot-source\": {{\"kernel_image_path\": \"{ExistingKernel()}\", \"kernel_args\": \"x\"}}}}");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, "$.boot-source.kernel_args");
    }

    [Fact]
    public async Task Run_MissingKernel_FailsNamingFieldAndPath()
    {
        string missing = Path.Combine(_dir, "no-such-vmlinux");
        string config = Config($"{{\"boot-source\": {{\"kernel_image_path\": \"{missing}\"}}}}");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, $"boot-source.kernel_image_path: kernel image {missing} does not exist");
    }

    [Fact]
    public async Task Run_MissingInitrd_FailsNamingTheField()
    {
        string config = Config($"{{\"boot-source\": {{\"kernel_image_path\": \"{ExistingKernel()}\", \"initrd_path\": \"{_dir}/nope.cpio\"}}}}");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, "boot-source.initrd_path: initrd");
    }

    [Fact]
    public async Task Run_BadVcpuCount_FailsNamingTheRange()
    {
        string config = Config(
            $"{{\"boot-source\": {{\"kernel_image_path\": \"{ExistingKernel()}\"}}, \"machine-config\": {{\"vcpu_count\": 0, \"mem_size_mib\": 128}}}}");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, "machine-config.vcpu_count is 0; it must be 1..32");
    }

    [Fact]
    public async Task Run_DriveFileMissing_FailsNamingTheDriveBeforeKvm()
    {
        string config = Config(
            $"{{\"boot-source\": {{\"kernel_image_path\": \"{ExistingKernel()}\"}}, \"drives\": [{{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x\", \"is_root_device\": true, \"is_read_only\": false}}]}}");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, "kindling-vmm: drives[rootfs].path_on_host: disk image /x does not exist");
    }

    [Fact]
    public async Task Run_KvmMissingOnThisHost_FailsWithTheModuleHint()
    {
        if (File.Exists("/dev/kvm"))
        {
            Assert.Skip("this host has /dev/kvm, so the CLI cannot be made to miss it; the same message is checked on every host by VirtualMachineTests.Create_KvmDeviceMissing_ThrowsTheActionableMessage (KvmDevicePath)");
        }

        string config = Config($"{{\"boot-source\": {{\"kernel_image_path\": \"{ExistingKernel()}\"}}}}");

        VmmProcess.Result result = await RunConfig(config);

        AssertOneLineFailure(result, "kindling-vmm: /dev/kvm not found: load kvm_intel or kvm_amd");
    }

    [Fact]
    public async Task Run_ApiSocket_ServesFirecrackerApiUntilSigterm()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string socket = Path.Combine(_dir, "api.sock");
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(VmmProcess.ExecutablePath)
        {
            ArgumentList = { "--api-sock", socket, "--id", "api-test" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            using var client = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, token) =>
                {
                    var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                    await s.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socket), token);
                    return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
                },
            }) { BaseAddress = new Uri("http://localhost") };

            string info = "";
            string lastError = "";
            for (int attempt = 0; attempt < 100 && info.Length == 0; attempt++)
            {
                try
                {
                    info = await client.GetStringAsync("/", ct);
                }
                catch (HttpRequestException e)
                {
                    lastError = e.Message;
                    if (process.HasExited)
                    {
                        Assert.Fail($"kindling-vmm exited ({process.ExitCode}): " + await process.StandardError.ReadToEndAsync(ct));
                    }

                    await Task.Delay(200, ct);
                }
            }

            Assert.True(info.Length > 0, "the API never answered: " + lastError);
            info = info.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);

            Assert.Contains("\"id\":\"api-test\"", info, StringComparison.Ordinal);
            Assert.Contains("\"state\":\"Notstarted\"", info, StringComparison.Ordinal);

            using HttpResponseMessage bad = await client.PutAsync("/machine-config",
                new StringContent("{\"vcpu_count\": 0, \"mem_size_mib\": 128}", System.Text.Encoding.UTF8, "application/json"), ct);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("vcpu_count", await bad.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

            using HttpResponseMessage mmds = await client.PutAsync("/mmds",
                new StringContent("{\"kindling\": {\"job\": {\"id\": \"1\"}}}", System.Text.Encoding.UTF8, "application/json"), ct);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, mmds.StatusCode);
            Assert.Contains("\"id\":\"1\"", (await client.GetStringAsync("/mmds", ct)).Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);

            Assert.True(Processes.Kill(process.Id, Processes.SIGTERM));
            await process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    /// <summary>
    /// The runner's path: everything over the API, serial to a FIFO and metrics to a file set with PUT /serial and
    /// PUT /metrics before InstanceStart (these used to be honoured only from --config-file: serial went to stdout).
    /// </summary>
    [KvmFact]
    public async Task Run_ApiConfiguredSerialFifoAndMetrics_GuestOutputReachesTheFifo()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string kernel = TinyElfGuest.Write(_dir);
        string socket = Path.Combine(_dir, "api.sock");
        string fifo = Logging.Fifo.Create(_dir, "serial.fifo");
        string metrics = Path.Combine(_dir, "metrics.json");
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(VmmProcess.ExecutablePath)
        {
            ArgumentList = { "--api-sock", socket, "--id", "api-serial" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(ct);
            using var client = UnixSocketClient(socket);
            await WaitForApiAsync(client, process, ct);
            await PutAsync(client, "/boot-source", $"{{\"kernel_image_path\": \"{kernel}\"}}", ct);
            await PutAsync(client, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", ct);
            await PutAsync(client, "/serial", $"{{\"serial_out_path\": \"{fifo}\"}}", ct);
            await PutAsync(client, "/metrics", $"{{\"metrics_path\": \"{metrics}\"}}", ct);
            // Read-write: opening a FIFO read-only would block until the VMM opens it at InstanceStart.
            await using FileStream reader = new(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
            await PutAsync(client, "/actions", "{\"action_type\": \"InstanceStart\"}", ct);

            byte[] serial = new byte[1];
            using CancellationTokenSource readTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            readTimeout.CancelAfter(TimeSpan.FromSeconds(60));
            int n = await reader.ReadAsync(serial, readTimeout.Token);
            await process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);

            Assert.Equal(1, n);
            Assert.Equal(TinyElfGuest.Marker, serial[0]);
            Assert.Equal(0, process.ExitCode);
            Assert.Equal("", await stdout);
            Assert.Contains("\"uart\":{\"bytes_written\":1", await File.ReadAllTextAsync(metrics, ct), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    private static HttpClient UnixSocketClient(string socket) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, token) =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await s.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socket), token);
            return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
        },
    }) { BaseAddress = new Uri("http://localhost") };

    private static async Task WaitForApiAsync(HttpClient client, System.Diagnostics.Process process, CancellationToken ct)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                await client.GetStringAsync("/", ct);
                return;
            }
            catch (HttpRequestException)
            {
                Assert.False(process.HasExited, "kindling-vmm exited before its API answered");
                await Task.Delay(200, ct);
            }
        }

        Assert.Fail("the API never answered");
    }

    private static async Task PutAsync(HttpClient client, string path, string json, CancellationToken ct)
    {
        using HttpResponseMessage response = await client.PutAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"), ct);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.NoContent, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
    }

    [Fact]
    public async Task Run_UnknownOption_FailsWithUsage()
    {
        VmmProcess.Result result = await VmmProcess.RunAsync(TestContext.Current.CancellationToken, "--no-api", "--frobnicate");

        AssertOneLineFailure(result, "unknown option --frobnicate; usage: kindling-vmm");
    }

    [Fact]
    public async Task Run_Help_PrintsUsageAndSucceeds()
    {
        VmmProcess.Result result = await VmmProcess.RunAsync(TestContext.Current.CancellationToken, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("usage: kindling-vmm", result.Stdout, StringComparison.Ordinal);
    }

    [KvmFact]
    public async Task Run_TinyGuest_PrintsItsSerialOutputAndExitsZeroOnReset()
    {
        string kernel = TinyElfGuest.Write(_dir);
        string config = Config($"{{\"boot-source\": {{\"kernel_image_path\": \"{kernel}\"}}, \"machine-config\": {{\"vcpu_count\": 1, \"mem_size_mib\": 64}}}}");

        VmmProcess.Result result = await RunConfig(config);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(((char)TinyElfGuest.Marker).ToString(), result.Stdout);
    }
}
