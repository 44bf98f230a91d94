using Kindling.Testing;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Tests.Kvm;

public sealed class KvmProbeTests
{
    [KvmFact]
    public void Run_OnThisHost_VerdictMatchesTheCpuFlags()
    {
        // A host CPU without vmx/svm cannot give its guests hardware virtualisation: its KVM must emulate.
        bool hardwareVirtualisation = File.ReadAllText("/proc/cpuinfo").Split('\n')
            .Where(l => l.StartsWith("flags", StringComparison.Ordinal))
            .Any(l => l.Split(' ').Intersect(["vmx", "svm"]).Any());

        KvmProbeResult result = KvmProbe.Run();

        Assert.Equal(KvmProbe.DefaultIterations, result.Iterations);
        Assert.True(result.Elapsed > TimeSpan.Zero);
        if (!hardwareVirtualisation)
        {
            Assert.Equal(KvmBacking.Emulated, result.Backing);
        }

        Assert.Contains($"{KvmProbe.DefaultIterations} guest loop iterations", result.ToString());
    }

    [KvmFact]
    public void Run_TenTimesTheIterations_TakesLonger()
    {
        KvmProbeResult small = KvmProbe.Run(10_000);
        KvmProbeResult large = KvmProbe.Run(1_000_000);

        // The loop really runs in the guest: a hundred times the work cannot be as fast.
        Assert.True(large.Elapsed > small.Elapsed, $"{small} vs {large}");
    }

    [Fact]
    public void Run_ZeroIterations_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => KvmProbe.Run(0));
    }
}
