using Kindling.Vmm.Boot;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Cli;

public sealed class ConfigMappingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-map-test").FullName;
    private readonly string _kernel;

    public ConfigMappingTests()
    {
        _kernel = Path.Combine(_dir, "vmlinux");
        File.WriteAllBytes(_kernel, [1]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly StreamSerialOutput Sink = new(Stream.Null);

    [Fact]
    public void ToOptions_OnlyBootSource_UsesFirecrackerDefaults()
    {
        var config = new VmConfig { BootSource = new BootSourceConfig { KernelImagePath = _kernel, BootArgs = "console=ttyS0" } };

        VirtualMachineOptions options = ConfigMapping.ToOptions(config, Sink);

        Assert.Equal(1, options.VcpuCount);
        Assert.Equal(128, options.MemSizeMib);
        Assert.Equal(CpuTemplate.None, options.CpuTemplate);
        Assert.Equal("console=ttyS0", options.BootArgs);
        Assert.Equal(_kernel, options.KernelImagePath);
    }

    [Fact]
    public void ToOptions_MachineConfig_CopiedWithTemplateCaseInsensitive()
    {
        var config = new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = _kernel },
            MachineConfig = new MachineConfig { VcpuCount = 2, MemSizeMib = 256, CpuTemplate = "minimal" },
        };

        VirtualMachineOptions options = ConfigMapping.ToOptions(config, Sink);

        Assert.Equal(2, options.VcpuCount);
        Assert.Equal(256, options.MemSizeMib);
        Assert.Equal(CpuTemplate.Minimal, options.CpuTemplate);
    }

    [Fact]
    public void ToOptions_KernelIsADirectory_Throws()
    {
        var config = new VmConfig { BootSource = new BootSourceConfig { KernelImagePath = _dir } };

        CliException e = Assert.Throws<CliException>(() => ConfigMapping.ToOptions(config, Sink));

        Assert.Contains("is a directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToOptions_MissingDriveFile_NamesTheDrive()
    {
        var config = new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = _kernel },
            Drives = [new DriveConfig { DriveId = "rootfs", PathOnHost = Path.Combine(_dir, "nope.ext4") }],
        };

        CliException e = Assert.Throws<CliException>(() => ConfigMapping.ToOptions(config, Sink));

        Assert.Contains("drives[rootfs].path_on_host", e.Message, StringComparison.Ordinal);
        Assert.Contains("nope.ext4", e.Message, StringComparison.Ordinal);
    }
}
