using System.Text;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Tests.Config;

/// <summary>vm.json mistakes a user can make (issue 18): each names the field (or byte) and the fix; none is an internal error.</summary>
public sealed class VmConfigFileHardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmcfg").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] bytes)
    {
        string path = Path.Combine(_dir, $"vm-{Guid.NewGuid():N}.json");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Write(string json) => Write(Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"drives":[null]}""", "drives[0] is null")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"network-interfaces":[null]}""", "network-interfaces[0] is null")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"network-interfaces":[{"iface_id":"eth0","host_dev_name":"tap0"}],"mmds-config":{"network_interfaces":[null]}}""", "mmds-config.network_interfaces[0] is null")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k\u0000x"}}""", "boot-source.kernel_image_path contains a NUL")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"drives":[{"drive_id":"r","path_on_host":"/r\u0000","is_root_device":true}]}""", "drives[r].path_on_host contains a NUL")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"metrics":{"metrics_path":"/m\u0000"}}""", "metrics.metrics_path contains a NUL")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"serial":{"serial_out_path":"/s\u0000"}}""", "serial.serial_out_path contains a NUL")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"logger":{"log_path":"/l\u0000"}}""", "logger.log_path contains a NUL")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"drives":[{"drive_id":"a-b","path_on_host":"/r","is_root_device":true}]}""", "drive_id \"a-b\"")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k"},"boot-source":{"kernel_image_path":"/j"}}""", "boot-source")]
    [InlineData("""{"boot-source":{"kernel_image_path":"/k","kernel_image_path":"/j"}}""", "kernel_image_path")]
    public void LoadFile_Mistake_NamesTheField(string json, string expected)
    {
        string path = Write(json);

        VmConfigException e = Assert.Throws<VmConfigException>(() => VmConfigJson.LoadFile(path));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_InvalidUtf8_IsRefusedNamingTheOffsetNotReplaced()
    {
        byte[] bytes = [.. "{\"boot-source\":{\"kernel_image_path\":\"/k"u8, 0xFF, 0xFE, .. "\"}}"u8];
        string path = Write(bytes);

        VmConfigException e = Assert.Throws<VmConfigException>(() => VmConfigJson.LoadFile(path));

        Assert.Contains("not valid UTF-8", e.Message, StringComparison.Ordinal);
        Assert.Contains("byte offset 39", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_Utf8WithBom_IsRead()
    {
        string path = Write([0xEF, 0xBB, 0xBF, .. """{"boot-source":{"kernel_image_path":"/k/é"}}"""u8]);

        Assert.Equal("/k/é", VmConfigJson.LoadFile(path).BootSource!.KernelImagePath);
    }
}
