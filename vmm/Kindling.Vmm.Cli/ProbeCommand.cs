using System.Text.Json.Nodes;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Cli;

/// <summary>
/// <c>kindling-vmm probe-kvm</c>: times a fixed loop in a tiny guest and prints one JSON line,
/// <c>{"backing":"hardware|emulated","iterations":N,"elapsed_ms":T,"ns_per_iteration":X}</c>. The runner uses it
/// to choose the guest kernel and the CPU template (<c>Emulated</c> where the host emulates guest kernel code).
/// </summary>
public static class ProbeCommand
{
    public const string Name = "probe-kvm";

    public static int Run(IReadOnlyList<string> args)
    {
        if (args.Count > 0)
        {
            Console.Error.WriteLine($"kindling-vmm: {Name} takes no arguments (got {args[0]})");
            return 2;
        }

        try
        {
            KvmProbeResult r = KvmProbe.Run();
            Console.WriteLine(new JsonObject
            {
                ["backing"] = r.Backing.ToString().ToLowerInvariant(),
                ["iterations"] = r.Iterations,
                ["elapsed_ms"] = Math.Round(r.Elapsed.TotalMilliseconds, 3),
                ["ns_per_iteration"] = Math.Round(r.NanosecondsPerIteration, 2),
            }.ToJsonString());
            return 0;
        }
        catch (KvmException e)
        {
            Console.Error.WriteLine($"kindling-vmm: {Name}: {e.Message}");
            return 1;
        }
    }
}
