using System.Diagnostics;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Kvm;

/// <summary>What backs /dev/kvm on this host, as <see cref="KvmProbe"/> measured it.</summary>
public enum KvmBacking
{
    /// <summary>VT-x/AMD-V: guest code runs at native speed.</summary>
    Hardware,

    /// <summary>
    /// Guest kernel-mode code is emulated instruction by instruction (e.g. kvm_pvm without PVM guest support):
    /// thousands of times slower, and some instructions are rejected. See the <c>emulated</c> CPU template.
    /// </summary>
    Emulated,
}

/// <summary>The probe's measurement: the loop, how long it took, and the verdict.</summary>
public sealed record KvmProbeResult(KvmBacking Backing, long Iterations, TimeSpan Elapsed)
{
    public double NanosecondsPerIteration => Elapsed.TotalNanoseconds / Iterations;

    public override string ToString() =>
        $"{Backing.ToString().ToLowerInvariant()} KVM: {Iterations} guest loop iterations in {Elapsed.TotalMilliseconds:F1} ms ({NanosecondsPerIteration:F1} ns each)";
}

/// <summary>
/// Tells hardware-backed KVM from KVM that emulates guest kernel code by timing a fixed loop in a tiny real-mode
/// guest (<c>mov ecx, N; 1: dec ecx; jnz 1b; hlt</c>). On hardware an iteration takes about a cycle; emulated,
/// about a microsecond (../shared/KVM-HERE.md measured ~1.3 µs), so the threshold sits far from both.
/// </summary>
public static class KvmProbe
{
    /// <summary>Iterations of the loop: ~0.1 ms on hardware, ~130 ms emulated.</summary>
    public const int DefaultIterations = 100_000;

    /// <summary>Above this many nanoseconds per iteration the host emulates guest code.</summary>
    public const double EmulatedThresholdNanoseconds = 50;

    private const ulong CodeAddress = 0x1000;
    private const ulong MemorySize = 0x10000;
    private const uint TssAddress = 0xfffb_d000;
    private const ulong RflagsReserved = 0x2;
    private const byte OpMovEcxImm32Prefix = 0x66, OpMovEcxImm32 = 0xb9, OpDecEcx = 0x49, OpJnzShort = 0x75, OpHlt = 0xf4;
    private const int MaxExits = 1000;

    private static readonly Lazy<KvmProbeResult> Cached = new(() => Run(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The probe's result for this process (run once, on first use).</summary>
    public static KvmProbeResult Result => Cached.Value;

    /// <summary>Runs the probe on <paramref name="devicePath"/>; throws <see cref="KvmException"/> when KVM is unusable.</summary>
    public static KvmProbeResult Run(int iterations = DefaultIterations, string devicePath = KvmSystem.DevicePath)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        using KvmSystem kvm = KvmSystem.Open(devicePath);
        kvm.CheckRequirements();
        using VmFd vm = kvm.CreateVm();
        vm.SetTssAddress(TssAddress);
        using GuestMemoryMmap memory = GuestMemoryMmap.Create([new GuestRegion(GuestAddress.Zero, MemorySize)]);
        HostMappedRegion region = memory.HostRegions[0];
        vm.SetUserMemoryRegion(0, region.GuestAddress.Value, region.Size, region.HostAddress);

        // 16-bit code: 66 b9 imm32 = mov ecx, imm32; 66 49 = dec ecx; 75 fc = jnz back to the dec; f4 = hlt.
        byte[] code = [OpMovEcxImm32Prefix, OpMovEcxImm32, .. BitConverter.GetBytes(iterations), OpMovEcxImm32Prefix, OpDecEcx, OpJnzShort, 0xfc, OpHlt];
        memory.Write(new GuestAddress(CodeAddress), code);

        using VcpuFd vcpu = vm.CreateVcpu(0);
        KvmSregs sregs = vcpu.GetSregs();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        vcpu.SetSregs(sregs);
        vcpu.SetRegs(new KvmRegs { Rip = CodeAddress, Rflags = RflagsReserved });

        var clock = Stopwatch.StartNew();
        for (int exits = 0; exits < MaxExits; exits++)
        {
            VcpuExit exit = vcpu.Run();
            if (exit.Kind == VcpuExitKind.Hlt)
            {
                TimeSpan elapsed = clock.Elapsed;
                double perIteration = elapsed.TotalNanoseconds / iterations;
                return new KvmProbeResult(perIteration > EmulatedThresholdNanoseconds ? KvmBacking.Emulated : KvmBacking.Hardware, iterations, elapsed);
            }

            if (exit.Kind != VcpuExitKind.Intr)
            {
                throw new KvmException($"the KVM probe guest stopped unexpectedly: {exit}");
            }
        }

        throw new KvmException($"the KVM probe guest did not halt after {MaxExits} interrupted runs");
    }
}
