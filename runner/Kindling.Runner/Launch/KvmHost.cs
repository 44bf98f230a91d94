using System.Text.Json;

namespace Kindling.Runner.Launch;

/// <summary>What backs this host's /dev/kvm, as <c>kindling-vmm probe-kvm</c> measured it (a timed guest loop).</summary>
/// <param name="Backing"><c>hardware</c>, <c>emulated</c>, or <c>unknown</c> when the probe could not run.</param>
/// <param name="Detail">The probe's figures, or why it could not run.</param>
public sealed record KvmHost(string Backing, string Detail)
{
    public const string Hardware = "hardware", Emulated = "emulated", Unknown = "unknown";

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>True when guest kernel code is emulated here: boots take minutes and need Kindling's own kernel.</summary>
    public bool IsEmulated => Backing == Emulated;

    /// <summary>Runs <c>vmmPath probe-kvm</c>; never throws (an unusable KVM is reported as <see cref="Unknown"/>).</summary>
    public static KvmHost Probe(string vmmPath)
    {
        try
        {
            VmmProgram program = VmmProgram.For(vmmPath);
            ProcessResult p;
            try
            {
                p = ProcessRunner.Run(program.FileName, program.Arguments(["probe-kvm"]), new ProcessOptions { Timeout = ProbeTimeout });
            }
            catch (ProcessTimeoutException)
            {
                return new KvmHost(Unknown, $"{vmmPath} probe-kvm did not answer within {ProbeTimeout.TotalSeconds:F0} s");
            }

            if (p.ExitCode != 0)
            {
                return new KvmHost(Unknown, p.StandardError.Trim() is { Length: > 0 } e ? e : $"{vmmPath} probe-kvm exited {p.ExitCode}");
            }

            string output = p.StandardOutput;
            using JsonDocument json = JsonDocument.Parse(output);
            string backing = json.RootElement.GetProperty("backing").GetString() ?? Unknown;
            double ns = json.RootElement.GetProperty("ns_per_iteration").GetDouble();
            return new KvmHost(backing is Hardware or Emulated ? backing : Unknown, $"{ns:F1} ns per guest loop iteration");
        }
        catch (Exception e) when (e is ProcessStartException or InvalidOperationException or JsonException or KeyNotFoundException)
        {
            return new KvmHost(Unknown, $"{vmmPath} probe-kvm: {(e is ProcessStartException s ? s.Reason : e.Message)}");
        }
    }
}
