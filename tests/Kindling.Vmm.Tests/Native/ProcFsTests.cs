using System.Diagnostics;

namespace Kindling.Vmm.Tests.Native;

public sealed class ProcFsTests
{
    /// <summary>A pid above the kernel's pid_max limit (4194304): never a process.</summary>
    private const int NoSuchPid = 5_000_000;

    [Fact]
    public void StartTicks_ThisProcess_IsSteady()
    {
        long? ticks = ProcFs.StartTicks(Environment.ProcessId);
        Assert.NotNull(ticks);
        Assert.Equal(ticks, ProcFs.StartTicks(Environment.ProcessId));
        Assert.True(ProcFs.IsAlive(Environment.ProcessId, ticks.Value));
        Assert.False(ProcFs.IsAlive(Environment.ProcessId, ticks.Value + 1));
    }

    [Fact]
    public void Readers_GonePid_ReadAsNothing()
    {
        Assert.False(ProcFs.Exists(NoSuchPid));
        Assert.Null(ProcFs.StartTicks(NoSuchPid));
        Assert.Null(ProcFs.State(NoSuchPid));
        Assert.False(ProcFs.IsZombie(NoSuchPid));
        Assert.Empty(ProcFs.CommandLine(NoSuchPid));
        Assert.Equal("", ProcFs.CgroupOf(NoSuchPid));
        Assert.Null(ProcFs.StatusKilobytes(NoSuchPid, "VmRSS"));
        Assert.Null(ProcFs.FirstChild(NoSuchPid));
    }

    [Fact]
    public void CommandLine_Child_HoldsItsArguments()
    {
        using Process sleep = Process.Start(new ProcessStartInfo("sleep", ["30"]) { UseShellExecute = false })!;
        try
        {
            Assert.Equal(["sleep", "30"], ProcFs.CommandLine(sleep.Id));
            Assert.True(ProcFs.CommandLineContains(sleep.Id, "30"));
            Assert.False(ProcFs.CommandLineContains(sleep.Id, "no-such-argument"));
            Assert.Contains(sleep.Id, ProcFs.AllPids());
        }
        finally
        {
            sleep.Kill();
            sleep.WaitForExit();
        }
    }

    [Fact]
    public void StatusKilobytes_ThisProcess_Positive()
    {
        Assert.True(ProcFs.StatusKilobytes(Environment.ProcessId, "VmRSS") > 0);
        Assert.Null(ProcFs.StatusKilobytes(Environment.ProcessId, "NoSuchField"));
    }

    [Fact]
    public void OpenDescriptors_NewDescriptor_Listed()
    {
        using FileDescriptor fd = FileDescriptor.Open("/dev/null", Libc.O_RDONLY);
        Assert.Contains(fd.Number, ProcFs.OpenDescriptors()); // (once closed, another thread's open may reuse the number)
    }

    [Fact]
    public void UptimeSeconds_AfterThisProcessStarted() =>
        Assert.True(ProcFs.UptimeSeconds() * 100 >= ProcFs.StartTicks(Environment.ProcessId));
}
