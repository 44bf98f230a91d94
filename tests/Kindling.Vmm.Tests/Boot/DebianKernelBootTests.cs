using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Config;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

/// <summary>
/// The real Debian cloud kernel on kindling-vmm, as far as any KVM host takes it (KVM-HERE.md §3): it must print
/// its banner, exactly the command line we passed and exactly the e820 map we built. One boot serves all three
/// assertions; the process is stopped once the e820 map has been printed.
/// </summary>
public sealed class DebianKernelBootTests : IDisposable
{
    private const int MemMib = 256;
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-debian-boot-").FullName;

    [KvmFact]
    public async Task Boot_DebianCloudKernel_PrintsBannerOurCommandLineAndOurE820Map()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        const string bootArgs = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=1 pci=off nomodule kindling.test=banner";
        string config = Path.Combine(_dir, "vm.json");
        await File.WriteAllTextAsync(config, VmConfigJson.Serialize(new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = DebianKernel.VmlinuxPath, BootArgs = bootArgs },
            MachineConfig = new MachineConfig { VcpuCount = 1, MemSizeMib = MemMib },
        }), ct);

        // The map kindling-vmm builds for this memory size, as Linux prints it.
        using GuestMemoryMmap memory = GuestMemoryMmap.Create((ulong)MemMib << 20);
        string[] expectedE820 = [.. BootLayout.BuildE820(memory).Select(e => string.Create(CultureInfo.InvariantCulture,
            $"BIOS-e820: [mem 0x{e.Address:x16}-0x{e.Address + e.Size - 1:x16}] {(e.Type == E820Type.Ram ? "usable" : "reserved")}"))];

        var psi = new ProcessStartInfo(Cli.VmmProcess.ExecutablePath)
        {
            ArgumentList = { "--no-api", "--config-file", config },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process vmm = Process.Start(psi)!;
        var serial = new StringBuilder();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(Budget);
            while (await vmm.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                serial.AppendLine(line);
                if (expectedE820.All(e => serial.ToString().Contains(e, StringComparison.Ordinal)))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Budget spent: the assertions below say what was missing.
        }
        finally
        {
            if (!vmm.HasExited)
            {
                vmm.Kill();
            }
        }

        string output = serial.ToString();
        string context = $"serial output so far:\n{output}\nstderr:\n{await vmm.StandardError.ReadToEndAsync(ct)}";
        Assert.True(output.Contains("Linux version 6.", StringComparison.Ordinal), "no kernel banner; " + context);
        Assert.True(output.Contains("Command line: " + bootArgs, StringComparison.Ordinal), "command line differs; " + context);
        foreach (string entry in expectedE820)
        {
            Assert.True(output.Contains(entry, StringComparison.Ordinal), $"e820 entry missing: {entry}; " + context);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
