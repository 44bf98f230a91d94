using System.Diagnostics;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Machine;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// The pre-spawned floor: what InstanceStart does (ConfigMapping, MicroVm.Create, Start) run in this process,
/// again and again, so that from the second VM on the code is warm (JIT'd, types loaded) and only the work itself
/// is timed: build + start → first serial byte. A pre-spawned kindling-vmm that had built (or warmed) its VM
/// before InstanceStart would approach this.
/// </summary>
internal static class WarmBuild
{
    private sealed class FirstByteSerial : ISerialOutput
    {
        private long _first;

        public ManualResetEventSlim Arrived { get; } = new();

        public long FirstTimestamp => Interlocked.Read(ref _first);

        public event Action? Writable { add { } remove { } }

        public bool TryWrite(byte value)
        {
            if (Interlocked.CompareExchange(ref _first, Stopwatch.GetTimestamp(), 0) == 0)
            {
                Arrived.Set();
            }

            return true;
        }
    }

    public static LaunchSample Run()
    {
        var config = new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = VmSubjects.Guest, BootArgs = "kindling.test=hello" },
            MachineConfig = new MachineConfig { VcpuCount = 1, MemSizeMib = VmSubjects.GuestMemMib },
        };
        var serial = new FirstByteSerial();
        long t0 = Stopwatch.GetTimestamp();
        VirtualMachineOptions options = ConfigMapping.ToOptions(config, serial);
        using MicroVm vm = MicroVm.Create(config, options, NullLoggerFactory.Instance, TimeProvider.System);
        vm.Start();
        if (!serial.Arrived.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException("in-process VM: no serial byte within 30 s");
        }

        double ms = Stopwatch.GetElapsedTime(t0, serial.FirstTimestamp).TotalMilliseconds;
        if (!vm.Machine.Completion.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException("in-process VM: the hello guest did not reset within 30 s");
        }

        return new LaunchSample(ms, -1);
    }
}
