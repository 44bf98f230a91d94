// kindling-vmm: one microVM per process, configured by a Firecracker-format config file.
// Exit 0 when the guest resets through the i8042; 1 with one line on stderr ("kindling-vmm: ...") otherwise.
using Kindling.Vmm.Boot;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;

const int Failure = 1;

try
{
    CliArguments cli = CliArguments.Parse(args);
    if (cli.Help)
    {
        Console.Out.WriteLine(CliArguments.Usage);
        return 0;
    }

    VmConfig config = VmConfigJson.LoadFile(cli.ConfigFile!);
    Stream serialStream = config.Serial?.SerialOutPath is { Length: > 0 } serialPath
        ? new FileStream(serialPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0)
        : Console.OpenStandardOutput();
    VirtualMachineOptions options = ConfigMapping.ToOptions(config, new StreamSerialOutput(serialStream));

    using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder
        .SetMinimumLevel(CliArguments.ParseLogLevel(cli.LogLevel))
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }));

    using VirtualMachine vm = VirtualMachine.Create(options, loggerFactory);
    using var input = new SerialInputPump(Console.OpenStandardInput(), vm.Serial);
    vm.Start();
    input.Start();
    VmExit exit = vm.WaitForExit();
    if (exit.Reason == VmExitReason.Error)
    {
        Console.Error.WriteLine($"kindling-vmm: {exit.Message}");
    }

    return exit.ExitCode;
}
catch (Exception e) when (e is CliException or VmConfigException or KvmException or BootException or GuestMemoryException)
{
    Console.Error.WriteLine($"kindling-vmm: {e.Message}");
    return Failure;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
{
    Console.Error.WriteLine($"kindling-vmm: {e.Message}");
    return Failure;
}
catch (Exception e)
{
    Console.Error.WriteLine($"kindling-vmm: internal error: {e.GetType().Name}: {e.Message}");
    return Failure;
}
