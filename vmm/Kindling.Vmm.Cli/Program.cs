// Placeholder until the VMM core lands: parses and validates the config, then says what is missing.
using Kindling.Vmm.Config;

if (args.Length >= 2 && args[0] == "--config-file")
{
    try
    {
        VmConfigJson.LoadFile(args[1]);
    }
    catch (VmConfigException e)
    {
        Console.Error.WriteLine($"kindling-vmm: {e.Message}");
        return 1;
    }
}

Console.Error.WriteLine("kindling-vmm: the monitor is not built yet");
return 2;
