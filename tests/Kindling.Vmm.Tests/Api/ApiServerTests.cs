using System.Net;
using System.Text.Json;

namespace Kindling.Vmm.Tests.Api;

public sealed class ApiServerTests
{
    [Fact]
    public async Task Get_Root_ReturnsInstanceInfo()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        using JsonDocument info = JsonDocument.Parse(await host.GetJsonAsync("/"));

        Assert.Equal("test-vm", info.RootElement.GetProperty("id").GetString());
        Assert.Equal("Not started", info.RootElement.GetProperty("state").GetString());
        Assert.Equal("kindling-vmm", info.RootElement.GetProperty("app_name").GetString());
        Assert.False(string.IsNullOrEmpty(info.RootElement.GetProperty("vmm_version").GetString()));
    }

    [Fact]
    public async Task Get_Version_ReturnsFirecrackerVersionField()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        using JsonDocument version = JsonDocument.Parse(await host.GetJsonAsync("/version"));

        Assert.False(string.IsNullOrEmpty(version.RootElement.GetProperty("firecracker_version").GetString()));
    }

    [Fact]
    public async Task GetMachineConfig_BeforePut_ReturnsFirecrackerDefaults()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        using JsonDocument mc = JsonDocument.Parse(await host.GetJsonAsync("/machine-config"));

        Assert.Equal(1, mc.RootElement.GetProperty("vcpu_count").GetInt32());
        Assert.Equal(128, mc.RootElement.GetProperty("mem_size_mib").GetInt32());
    }

    [Fact]
    public async Task Put_FirecrackerExampleBodies_AreAcceptedFieldForField()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        (string Path, string Section, string Body, bool IsListItem)[] requests =
        [
            ("/boot-source", "boot-source", FirecrackerExamples.BootSource, false),
            ("/machine-config", "machine-config", FirecrackerExamples.MachineConfig, false),
            ("/drives/rootfs", "drives", FirecrackerExamples.RootDrive, true),
            ("/network-interfaces/eth0", "network-interfaces", FirecrackerExamples.NetworkInterface, true),
            ("/vsock", "vsock", FirecrackerExamples.Vsock, false),
            ("/entropy", "entropy", FirecrackerExamples.Entropy, false),
            ("/logger", "logger", FirecrackerExamples.Logger, false),
            ("/metrics", "metrics", FirecrackerExamples.Metrics, false),
            ("/serial", "serial", FirecrackerExamples.Serial, false),
            ("/mmds/config", "mmds-config", FirecrackerExamples.MmdsConfig, false),
        ];

        foreach ((string path, _, string body, _) in requests)
        {
            await host.OkAsync("PUT", path, body);
        }

        using JsonDocument config = JsonDocument.Parse(await host.GetJsonAsync("/vm/config"));
        foreach ((string path, string section, string body, bool isListItem) in requests)
        {
            JsonElement actual = config.RootElement.GetProperty(section);
            if (isListItem)
            {
                actual = Assert.Single(actual.EnumerateArray());
            }

            using JsonDocument expected = JsonDocument.Parse(body);
            JsonAssert.ContainsFields(expected.RootElement, actual, path);
        }
    }

    [Fact]
    public async Task PutMmds_FirecrackerExample_IsReturnedByGet()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        await host.OkAsync("PUT", "/mmds", FirecrackerExamples.MmdsData);
        await host.OkAsync("PATCH", "/mmds", """{ "latest": { "meta-data": { "ami-id": "ami-new", "reservation-id": null } } }""");

        using JsonDocument data = JsonDocument.Parse(await host.GetJsonAsync("/mmds"));
        JsonElement meta = data.RootElement.GetProperty("latest").GetProperty("meta-data");
        Assert.Equal("ami-new", meta.GetProperty("ami-id").GetString());
        Assert.False(meta.TryGetProperty("reservation-id", out _));
    }

    [Fact]
    public async Task PutMmds_OverSizeLimit_IsRefusedAndStoreUnchanged()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync(mmdsSizeLimit: 200);
        await host.OkAsync("PUT", "/mmds", """{ "a": "small" }""");

        string fault = await host.FaultAsync("PUT", "/mmds", $$"""{ "a": "{{new string('x', 300)}}" }""");
        await host.FaultAsync("PATCH", "/mmds", $$"""{ "b": "{{new string('y', 300)}}" }""");

        Assert.Contains("limit", fault, StringComparison.Ordinal);
        Assert.Equal("""{"a":"small"}""", await host.GetJsonAsync("/mmds"));
    }

    [Fact]
    public async Task PatchMachineConfig_ChangesOnlyGivenFields()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/machine-config", FirecrackerExamples.MachineConfig);

        await host.OkAsync("PATCH", "/machine-config", """{ "mem_size_mib": 256 }""");

        using JsonDocument mc = JsonDocument.Parse(await host.GetJsonAsync("/machine-config"));
        Assert.Equal(2, mc.RootElement.GetProperty("vcpu_count").GetInt32());
        Assert.Equal(256, mc.RootElement.GetProperty("mem_size_mib").GetInt32());
    }

    [Fact]
    public async Task PutDrive_SameIdTwice_ReplacesIt()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        await host.OkAsync("PUT", "/drives/data", """{ "drive_id": "data", "path_on_host": "a.img", "is_root_device": false }""");
        await host.OkAsync("PUT", "/drives/data", """{ "drive_id": "data", "path_on_host": "b.img", "is_root_device": false }""");

        using JsonDocument config = JsonDocument.Parse(await host.GetJsonAsync("/vm/config"));
        Assert.Equal("b.img", Assert.Single(config.RootElement.GetProperty("drives").EnumerateArray()).GetProperty("path_on_host").GetString());
    }

    [Fact]
    public async Task PutDrive_SecondRootDevice_IsRefused()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive);

        string fault = await host.FaultAsync("PUT", "/drives/other", """{ "drive_id": "other", "path_on_host": "o.img", "is_root_device": true }""");

        Assert.Contains("root", fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutDrive_PathIdDiffersFromBody_IsRefused()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string fault = await host.FaultAsync("PUT", "/drives/other", FirecrackerExamples.RootDrive);

        Assert.Contains("drive_id", fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutNetworkInterface_HostDeviceUsedTwice_IsRefused()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface);

        string fault = await host.FaultAsync("PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1", "host_dev_name": "tap0" }""");

        Assert.Contains("host_dev_name", fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutMmdsConfig_UnknownInterface_IsRefused()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string fault = await host.FaultAsync("PUT", "/mmds/config", FirecrackerExamples.MmdsConfig);

        Assert.Contains("eth0", fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstanceStart_WithoutBootSource_IsRefusedAndStaysNotStarted()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string fault = await host.FaultAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        Assert.Contains("boot-source", fault, StringComparison.Ordinal);
        Assert.Contains("Not started", await host.GetJsonAsync("/"), StringComparison.Ordinal);
        Assert.Empty(host.Backend.Calls);
    }

    [Fact]
    public async Task InstanceStart_BackendRefuses_FaultCarriesReasonAndStaysNotStarted()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", FirecrackerExamples.BootSource);
        host.Backend.RefuseStartWith = "kernel ./vmlinux-5.10 not found";

        string fault = await host.FaultAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        Assert.Contains("vmlinux-5.10", fault, StringComparison.Ordinal);
        Assert.Contains("Not started", await host.GetJsonAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lifecycle_PauseResumeCtrlAltDelAfterStart_RefusedAsByTheRealBackendAndStillRunning()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", FirecrackerExamples.BootSource);
        await host.OkAsync("PUT", "/machine-config", FirecrackerExamples.MachineConfig);
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");
        Assert.Contains("\"Running\"", await host.GetJsonAsync("/"), StringComparison.Ordinal);

        string pause = await host.FaultAsync("PATCH", "/vm", """{ "state": "Paused" }""");
        Assert.Contains("\"Running\"", await host.GetJsonAsync("/"), StringComparison.Ordinal);
        await host.OkAsync("PATCH", "/vm", """{ "state": "Resumed" }"""); // already running: nothing to ask the backend
        string ctrlAltDel = await host.FaultAsync("PUT", "/actions", """{ "action_type": "SendCtrlAltDel" }""");
        string flush = await host.FaultAsync("PUT", "/actions", """{ "action_type": "FlushMetrics" }""");

        Assert.Contains("pausing a microVM needs a started microVM", pause, StringComparison.Ordinal);
        Assert.Contains("reboot -f", ctrlAltDel, StringComparison.Ordinal);
        Assert.Contains("PUT /metrics first", flush, StringComparison.Ordinal);
        Assert.Equal(["Start"], host.Backend.Calls);
        Assert.Equal(1024, host.Backend.StartedWith!.MachineConfig!.MemSizeMib);
        Assert.Contains("\"Running\"", await host.GetJsonAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlushMetrics_MetricsConfiguredBeforeStart_CallsBackend()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", FirecrackerExamples.BootSource);
        await host.OkAsync("PUT", "/metrics", FirecrackerExamples.Metrics);
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        await host.OkAsync("PUT", "/actions", """{ "action_type": "FlushMetrics" }""");

        Assert.Equal(["ConfigureMetrics", "Start", "FlushMetrics"], host.Backend.Calls);
    }

    [Fact]
    public async Task FlushMetrics_AfterPutMetricsBeforeStart_CallsBackend()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/metrics", FirecrackerExamples.Metrics);

        await host.OkAsync("PUT", "/actions", """{ "action_type": "FlushMetrics" }""");

        Assert.Equal(["ConfigureMetrics", "FlushMetrics"], host.Backend.Calls);
    }

    [Theory]
    [InlineData("/metrics", """{ "metrics_path": "/nonexistent-kindling-folder/metrics.fifo" }""", "metrics.metrics_path")]
    [InlineData("/logger", """{ "log_path": "/nonexistent-kindling-folder/vmm.log" }""", "logger.log_path")]
    public async Task PutOutput_FolderMissing_RefusedNamingTheField(string path, string body, string field)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string fault = await host.FaultAsync("PUT", path, body);

        Assert.Contains(field, fault, StringComparison.Ordinal);
        Assert.Empty(host.Backend.Calls);
    }

    /// <summary>The controller's bookkeeping for a backend that can pause (none can yet): state follows the backend.</summary>
    [Fact]
    public async Task Lifecycle_BackendThatAcceptsPause_ReportsPausedThenRunning()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        host.Backend.AcceptUnsupported = true;
        await host.OkAsync("PUT", "/boot-source", FirecrackerExamples.BootSource);
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        await host.OkAsync("PATCH", "/vm", """{ "state": "Paused" }""");
        Assert.Contains("\"Paused\"", await host.GetJsonAsync("/"), StringComparison.Ordinal);
        await host.OkAsync("PATCH", "/vm", """{ "state": "Resumed" }""");
        await host.OkAsync("PUT", "/actions", """{ "action_type": "SendCtrlAltDel" }""");

        Assert.Equal(["Start", "Pause", "Resume", "SendCtrlAltDel"], host.Backend.Calls);
        Assert.Contains("\"Running\"", await host.GetJsonAsync("/"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PUT", "/boot-source", FirecrackerExamples.BootSource)]
    [InlineData("PUT", "/machine-config", FirecrackerExamples.MachineConfig)]
    [InlineData("PATCH", "/machine-config", """{ "vcpu_count": 1 }""")]
    [InlineData("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive)]
    [InlineData("PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1", "host_dev_name": "tap1" }""")]
    [InlineData("PUT", "/vsock", FirecrackerExamples.Vsock)]
    [InlineData("PUT", "/entropy", FirecrackerExamples.Entropy)]
    [InlineData("PUT", "/logger", FirecrackerExamples.Logger)]
    [InlineData("PUT", "/metrics", FirecrackerExamples.Metrics)]
    [InlineData("PUT", "/serial", FirecrackerExamples.Serial)]
    [InlineData("PUT", "/mmds/config", FirecrackerExamples.MmdsConfig)]
    [InlineData("PUT", "/actions", """{ "action_type": "InstanceStart" }""")]
    public async Task PreBootResource_AfterStart_IsRefusedAndConfigUnchanged(string method, string path, string body)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", """{ "kernel_image_path": "k" }""");
        await host.OkAsync("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface);
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");
        string before = await host.GetJsonAsync("/vm/config");

        await host.FaultAsync(method, path, body);

        Assert.Equal(before, await host.GetJsonAsync("/vm/config"));
    }

    [Theory]
    [InlineData("PATCH", "/drives/rootfs", """{ "drive_id": "rootfs", "path_on_host": "new.ext4" }""")]
    [InlineData("PATCH", "/network-interfaces/eth0", """{ "iface_id": "eth0", "rx_rate_limiter": { "bandwidth": { "size": 5, "refill_time": 10 } } }""")]
    [InlineData("PATCH", "/vm", """{ "state": "Paused" }""")]
    [InlineData("PUT", "/actions", """{ "action_type": "SendCtrlAltDel" }""")]
    public async Task PostBootOperation_BeforeStart_IsRefused(string method, string path, string body)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive);
        await host.OkAsync("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface);

        string fault = await host.FaultAsync(method, path, body);

        Assert.Contains("before starting", fault, StringComparison.Ordinal);
        Assert.Empty(host.Backend.Calls);
    }

    [Fact]
    public async Task PatchDriveAndInterface_AfterStart_RefusedAsByTheRealBackendAndConfigUnchanged()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", """{ "kernel_image_path": "k" }""");
        await host.OkAsync("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive);
        await host.OkAsync("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface);
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");
        string before = await host.GetJsonAsync("/vm/config");

        string drive = await host.FaultAsync("PATCH", "/drives/rootfs", """{ "drive_id": "rootfs", "path_on_host": "new.ext4" }""");
        string iface = await host.FaultAsync("PATCH", "/network-interfaces/eth0", """{ "iface_id": "eth0", "tx_rate_limiter": { "bandwidth": { "size": 7, "refill_time": 10 } } }""");

        Assert.Equal("drive rootfs: PATCH /drives needs a started microVM", drive); // the fake's real backend never started
        Assert.Equal("network interface eth0: changing rate limiters after boot is not supported yet", iface);
        Assert.Equal(["Start"], host.Backend.Calls);
        Assert.Equal(before, await host.GetJsonAsync("/vm/config"));
    }

    /// <summary>The controller's checks and bookkeeping for a backend that can update devices after boot (none can yet).</summary>
    [Fact]
    public async Task PatchDriveAndInterface_BackendThatAccepts_UpdateBackendAndConfig()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        host.Backend.AcceptUnsupported = true;
        await host.OkAsync("PUT", "/boot-source", """{ "kernel_image_path": "k" }""");
        await host.OkAsync("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive);
        await host.OkAsync("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface);
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        await host.OkAsync("PATCH", "/drives/rootfs", """{ "drive_id": "rootfs", "path_on_host": "new.ext4" }""");
        await host.OkAsync("PATCH", "/network-interfaces/eth0", """{ "iface_id": "eth0", "tx_rate_limiter": { "bandwidth": { "size": 7, "refill_time": 10 } } }""");
        await host.FaultAsync("PATCH", "/drives/nope", """{ "drive_id": "nope" }""");
        string range = await host.FaultAsync("PATCH", "/drives/rootfs", """{ "drive_id": "rootfs", "rate_limiter": { "bandwidth": { "size": -1, "refill_time": 1 } } }""");
        Assert.Contains("rate_limiter", range, StringComparison.Ordinal);

        Assert.Contains("UpdateBlockDevice rootfs new.ext4", host.Backend.Calls);
        Assert.Contains("UpdateNetworkRateLimiters eth0 rx= tx=7", host.Backend.Calls);
        using JsonDocument config = JsonDocument.Parse(await host.GetJsonAsync("/vm/config"));
        Assert.Equal("new.ext4", config.RootElement.GetProperty("drives")[0].GetProperty("path_on_host").GetString());
    }

    [Fact]
    public async Task Mmds_AfterStart_CanStillBeWritten()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", """{ "kernel_image_path": "k" }""");
        await host.OkAsync("PUT", "/actions", """{ "action_type": "InstanceStart" }""");

        await host.OkAsync("PUT", "/mmds", FirecrackerExamples.MmdsData);

        Assert.Contains("ami-87654321", await host.GetJsonAsync("/mmds"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PUT", "/balloon", """{ "amount_mib": 64, "deflate_on_oom": true }""")]
    [InlineData("GET", "/balloon", null)]
    [InlineData("PATCH", "/balloon", """{ "amount_mib": 32 }""")]
    [InlineData("GET", "/balloon/statistics", null)]
    [InlineData("PUT", "/hotplug/memory", """{ "total_size_mib": 1024 }""")]
    [InlineData("PUT", "/pmem/pmem0", """{ "id": "pmem0", "path_on_host": "p" }""")]
    [InlineData("PUT", "/cpu-config", """{ "kvm_capabilities": ["!56"] }""")]
    public async Task UnsupportedFirecrackerResource_Answers400SayingSo(string method, string path, string? body)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string fault = await host.FaultAsync(method, path, body);

        Assert.Contains("does not support", fault, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/nonexistent")]
    [InlineData("DELETE", "/boot-source")]
    [InlineData("GET", "/boot-source")]
    public async Task UnknownPathOrMethod_Answers400(string method, string path)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        string fault = await host.FaultAsync(method, path);

        Assert.Contains("Invalid request method and/or path", fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentRequests_AllAnsweredInSomeOrder()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        Task[] puts = Enumerable.Range(0, 20)
            .Select(i => host.OkAsync("PUT", $"/drives/d{i}", $$"""{ "drive_id": "d{{i}}", "path_on_host": "d{{i}}.img", "is_root_device": false }"""))
            .ToArray();
        await Task.WhenAll(puts);

        using JsonDocument config = JsonDocument.Parse(await host.GetJsonAsync("/vm/config"));
        Assert.Equal(20, config.RootElement.GetProperty("drives").GetArrayLength());
    }

    [Fact]
    public async Task EmptyBody_OnPut_IsRefused()
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();

        (HttpStatusCode status, string body) = await host.SendAsync("PUT", "/boot-source");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("empty", body, StringComparison.Ordinal);
    }
}
