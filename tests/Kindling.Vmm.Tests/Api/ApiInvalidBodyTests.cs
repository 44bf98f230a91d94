namespace Kindling.Vmm.Tests.Api;

/// <summary>Every endpoint that takes a body, with each kind of bad body: 400, a fault_message naming the problem, state unchanged.</summary>
public sealed class ApiInvalidBodyTests
{
    public static TheoryData<string, string, string, string> InvalidBodies() => new()
    {
        // method, path, body, text the fault_message must contain
        { "PUT", "/machine-config", """{ "vcpu_count": 2, "mem_size_mib": """, "invalid JSON" },
        { "PUT", "/machine-config", """{ "vcpu_count": 2, "mem_size_mib": 256, "vcpus": 2 }""", "vcpus" },
        { "PUT", "/machine-config", """{ "vcpu_count": "2", "mem_size_mib": 256 }""", "vcpu_count" },
        { "PUT", "/machine-config", """{ "vcpu_count": 33, "mem_size_mib": 256 }""", "vcpu_count" },
        { "PUT", "/machine-config", """{ "vcpu_count": 2, "mem_size_mib": 99999999999 }""", "mem_size_mib" },
        { "PUT", "/machine-config", """{ "vcpu_count": 2 }""", "mem_size_mib" },
        { "PATCH", "/machine-config", """{ "smt": """, "invalid JSON" },
        { "PATCH", "/machine-config", """{ "memory": 5 }""", "memory" },
        { "PATCH", "/machine-config", """{ "smt": "yes" }""", "smt" },
        { "PATCH", "/machine-config", """{ "mem_size_mib": 0 }""", "mem_size_mib" },
        { "PUT", "/boot-source", """{ "kernel_image_path": """, "invalid JSON" },
        { "PUT", "/boot-source", """{ "kernel_image_path": "k", "bootargs": "x" }""", "bootargs" },
        { "PUT", "/boot-source", """{ "kernel_image_path": 5 }""", "kernel_image_path" },
        { "PUT", "/boot-source", $$"""{ "kernel_image_path": "k", "boot_args": "{{new string('a', 5000)}}" }""", "boot_args" },
        { "PUT", "/drives/data", """{ "drive_id": "data", """, "invalid JSON" },
        { "PUT", "/drives/data", """{ "drive_id": "data", "path_on_host": "d", "is_root_device": false, "is_root": true }""", "is_root" },
        { "PUT", "/drives/data", """{ "drive_id": "data", "path_on_host": "d", "is_root_device": false, "is_read_only": "no" }""", "is_read_only" },
        { "PUT", "/drives/data", """{ "drive_id": "data", "path_on_host": "d", "is_root_device": false, "cache_type": "Fast" }""", "cache_type" },
        { "PATCH", "/drives/rootfs", """{ "drive_id": "rootfs", "path_on_host": 5 }""", "path_on_host" },
        { "PATCH", "/drives/rootfs", """{ "drive_id": "rootfs", "speed": 1 }""", "speed" },
        { "PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1" """, "invalid JSON" },
        { "PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1", "host_dev_name": "tap1", "mac": "x" }""", "mac" },
        { "PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": 5 }""", "guest_mac" },
        { "PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1", "host_dev_name": "tap1", "mtu": 10 }""", "mtu" },
        { "PUT", "/network-interfaces/eth1", """{ "iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "not-a-mac" }""", "guest_mac" },
        { "PATCH", "/network-interfaces/eth0", """{ "iface_id": "eth0", "rx_rate_limiter": 3 }""", "rx_rate_limiter" },
        { "PUT", "/vsock", """{ "guest_cid": """, "invalid JSON" },
        { "PUT", "/vsock", """{ "guest_cid": 3, "uds_path": "v", "port": 1 }""", "port" },
        { "PUT", "/vsock", """{ "guest_cid": "3", "uds_path": "v" }""", "guest_cid" },
        { "PUT", "/vsock", """{ "guest_cid": 2, "uds_path": "v" }""", "guest_cid" },
        { "PUT", "/entropy", """{ "rate_limiter": """, "invalid JSON" },
        { "PUT", "/entropy", """{ "rate": 1 }""", "rate" },
        { "PUT", "/entropy", """{ "rate_limiter": 5 }""", "rate_limiter" },
        { "PUT", "/entropy", """{ "rate_limiter": { "bandwidth": { "size": -1, "refill_time": 100 } } }""", "rate_limiter" },
        { "PUT", "/logger", """{ "level": """, "invalid JSON" },
        { "PUT", "/logger", """{ "log_path": "l", "colour": true }""", "colour" },
        { "PUT", "/logger", """{ "log_path": "l", "show_level": "yes" }""", "show_level" },
        { "PUT", "/logger", """{ "log_path": "l", "level": "Loud" }""", "level" },
        { "PUT", "/metrics", """{ "metrics_path": """, "invalid JSON" },
        { "PUT", "/metrics", """{ "metrics_path": "m", "interval": 5 }""", "interval" },
        { "PUT", "/metrics", """{ "metrics_path": 5 }""", "metrics_path" },
        { "PUT", "/metrics", """{ "metrics_path": "" }""", "metrics_path" },
        { "PUT", "/serial", """{ "serial_out_path": """, "invalid JSON" },
        { "PUT", "/serial", """{ "serial_in_path": "s" }""", "serial_in_path" },
        { "PUT", "/serial", """{ "serial_out_path": 5 }""", "serial_out_path" },
        { "PUT", "/serial", """{ "serial_out_path": "" }""", "serial_out_path" },
        { "PUT", "/serial", """{ "serial_out_path": "s", "rate_limiter": { "size": 10, "refill_time": 10 } }""", "rate_limiter" },
        { "PUT", "/mmds/config", """{ "network_interfaces": [ """, "invalid JSON" },
        { "PUT", "/mmds/config", """{ "network_interfaces": ["eth0"], "ip": "169.254.169.254" }""", "ip" },
        { "PUT", "/mmds/config", """{ "network_interfaces": "eth0" }""", "network_interfaces" },
        { "PUT", "/mmds/config", """{ "network_interfaces": ["eth0"], "version": "V3" }""", "version" },
        { "PUT", "/mmds/config", """{ "network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1" }""", "ipv4_address" },
        { "PUT", "/mmds", """{ "latest": """, "invalid JSON" },
        { "PUT", "/mmds", """[ "not", "an", "object" ]""", "object" },
        { "PATCH", "/mmds", """{ "latest": """, "invalid JSON" },
        { "PATCH", "/mmds", "42", "object" },
        { "PUT", "/actions", """{ "action_type": """, "invalid JSON" },
        { "PUT", "/actions", """{ "action_type": "InstanceStart", "force": true }""", "force" },
        { "PUT", "/actions", """{ "action_type": 1 }""", "action_type" },
        { "PUT", "/actions", """{ "action_type": "Reboot" }""", "action_type" },
        { "PATCH", "/vm", """{ "state": """, "invalid JSON" },
        { "PATCH", "/vm", """{ "state": "Paused", "now": true }""", "now" },
        { "PATCH", "/vm", """{ "state": false }""", "state" },
        { "PATCH", "/vm", """{ "state": "Frozen" }""", "state" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidBody_Answers400NamingTheFieldAndLeavesStateUnchanged(string method, string path, string body, string named)
    {
        await using ApiTestHost host = await ApiTestHost.StartAsync();
        await host.OkAsync("PUT", "/boot-source", FirecrackerExamples.BootSource);
        await host.OkAsync("PUT", "/drives/rootfs", FirecrackerExamples.RootDrive);
        await host.OkAsync("PUT", "/network-interfaces/eth0", FirecrackerExamples.NetworkInterface);
        await host.OkAsync("PUT", "/mmds", FirecrackerExamples.MmdsData);
        string configBefore = await host.GetJsonAsync("/vm/config");
        string mmdsBefore = await host.GetJsonAsync("/mmds");

        string fault = await host.FaultAsync(method, path, body);

        Assert.Contains(named, fault, StringComparison.Ordinal);
        Assert.Equal(configBefore, await host.GetJsonAsync("/vm/config"));
        Assert.Equal(mmdsBefore, await host.GetJsonAsync("/mmds"));
        Assert.Empty(host.Backend.Calls);
    }
}
