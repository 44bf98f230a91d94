using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Snapshot;
using Kindling.Vmm.Tests.Guests;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Tests.Snapshot;

/// <summary>
/// Pause, snapshot and restore of a real guest on KVM (skipped where /dev/kvm is absent): the counter guest keeps
/// counting on the restored machine from where the snapshot stopped it, and two clones of one snapshot run side by side.
/// </summary>
public sealed class SnapshotRoundTripKvmTests : IDisposable
{
    private const int Counts = 40;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(180);
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-snapshot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VmConfig CounterConfig() => KindlingVmmProcess.GuestConfig($"kindling.test=counter kindling.counts={Counts} kindling.spin=20000000");

    /// <summary>The snapshot, its memory file, the last whole count line before it, and any half line after that.</summary>
    private (MicroVmState State, string MemoryPath, int LastCount, string HalfLine) SnapshotMidRun(VmConfig config)
    {
        var serial = new TextSink();
        using MicroVm vm = MicroVm.Create(config, ConfigMapping.ToOptions(config, serial), NullLoggerFactory.Instance, TimeProvider.System);
        vm.Start();
        Assert.True(serial.WaitFor("KINDLING-COUNT 3\n", Generous), $"the counter guest did not reach 3: {serial.Text}");

        vm.Pause();
        string statePath = Path.Combine(_dir, "vm.state"), memoryPath = Path.Combine(_dir, "vm.mem");
        vm.CreateSnapshot(statePath, memoryPath, VmConfigJson.Serialize(config));
        int last = TextSink.CountsIn(serial.Text).Max();
        string halfLine = serial.Text[(serial.Text.LastIndexOf('\n') + 1)..];
        (SnapshotOrigin origin, ReadOnlyMemory<byte> body) = SnapshotFile.Read(statePath);
        SnapshotFile.CheckOrigin(origin, HostCpu.Origin(vm.Machine.Options.CpuTemplate.ToString()), statePath);
        return (MicroVmStateCodec.Decode(body, statePath), memoryPath, last, halfLine);
    }

    private static (MicroVm Vm, TextSink Serial) Restore(MicroVmState state, string memoryPath, VmConfig config)
    {
        var serial = new TextSink();
        MicroVm vm = MicroVm.Restore(state, memoryPath, resume: true, config, ConfigMapping.ToOptions(config, serial), NullLoggerFactory.Instance, TimeProvider.System);
        return (vm, serial);
    }

    [KvmFact]
    public void Restore_CounterGuestSnapshottedMidRun_KeepsCountingFromWhereItStopped()
    {
        VmConfig config = CounterConfig();
        (MicroVmState state, string memoryPath, int last, string halfLine) = SnapshotMidRun(config);

        (MicroVm vm, TextSink serial) = Restore(state, memoryPath, config);
        using (vm)
        {
            Assert.True(serial.WaitFor(GuestRunResult.PassLine("counter"), Generous), $"the restored guest did not finish: {serial.Text}");
        }

        // A line cut by the snapshot continues on the restored serial: together they are whole lines.
        Assert.Equal(Enumerable.Range(last + 1, Counts - last), TextSink.CountsIn(halfLine + serial.Text));
    }

    [KvmFact]
    public void Restore_OneSnapshotTwiceAtTheSameTime_BothClonesFinishIndependently()
    {
        VmConfig config = CounterConfig();
        (MicroVmState state, string memoryPath, int last, string halfLine) = SnapshotMidRun(config);

        (MicroVm first, TextSink firstSerial) = Restore(state, memoryPath, config);
        (MicroVm second, TextSink secondSerial) = Restore(state, memoryPath, config);
        using (first)
        using (second)
        {
            Assert.True(firstSerial.WaitFor(GuestRunResult.PassLine("counter"), Generous), firstSerial.Text);
            Assert.True(secondSerial.WaitFor(GuestRunResult.PassLine("counter"), Generous), secondSerial.Text);
        }

        Assert.Equal(Enumerable.Range(last + 1, Counts - last), TextSink.CountsIn(halfLine + firstSerial.Text));
        Assert.Equal(firstSerial.Text, secondSerial.Text);
    }

    /// <summary>A serial sink that keeps the text and wakes waiters when it grows.</summary>
    private sealed class TextSink : ISerialOutput
    {
        private readonly StringBuilder _text = new();
        private readonly object _gate = new();

        public event Action? Writable
        {
            add { }
            remove { }
        }

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return _text.ToString();
                }
            }
        }

        public bool TryWrite(byte value)
        {
            lock (_gate)
            {
                _text.Append((char)value);
                Monitor.PulseAll(_gate);
            }

            return true;
        }

        public bool WaitFor(string marker, TimeSpan timeout)
        {
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            lock (_gate)
            {
                while (!_text.ToString().Contains(marker, StringComparison.Ordinal))
                {
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0 || !Monitor.Wait(_gate, (int)left))
                    {
                        return _text.ToString().Contains(marker, StringComparison.Ordinal);
                    }
                }

                return true;
            }
        }

        public static int[] CountsIn(string text) =>
            [.. text.Split('\n').Where(l => l.StartsWith("KINDLING-COUNT ", StringComparison.Ordinal))
                .Select(l => int.Parse(l["KINDLING-COUNT ".Length..].TrimEnd('\r'), System.Globalization.CultureInfo.InvariantCulture))];
    }
}
