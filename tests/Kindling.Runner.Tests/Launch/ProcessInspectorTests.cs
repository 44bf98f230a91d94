using System.Diagnostics;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Tests.Launch;

public sealed class ProcessInspectorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-inspector-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task WorkingUnder_VmLikeProcessAndShellInAJobDirectory_OnlyTheVmLikeOneFound()
    {
        string job = Directory.CreateDirectory(Path.Combine(_root, "jobs", "7")).FullName;
        string fifo = Path.Combine(job, "hold.fifo");
        string elsewhere = Path.Combine(_root, "elsewhere.fifo");
        Kindling.Native.FdIo.MakeFifo(fifo);
        Kindling.Native.FdIo.MakeFifo(elsewhere);
        const string Hold = "exec 3<>\"$1\"; read -r never <&3";
        // Like a VM: started in its job's directory, naming a path there (its API socket or FIFO).
        using Process vm = DetachedProcess.Start("/bin/sh", ["-c", Hold, "vm", fifo], job, "/dev/null", "/dev/null");
        // Like an operator's shell that sits in the job's directory: nothing of the job on its command line.
        using Process shell = DetachedProcess.Start("/bin/sh", ["-c", Hold, "operator", elsewhere], job, "/dev/null", "/dev/null");
        try
        {
            // Both are running their own command line (started is not yet exec'd: until then /proc shows this process's)
            Assert.True(SpinWait.SpinUntil(() => Kindling.Native.ProcFs.CommandLineContains(vm.Id, fifo) &&
                                                 Kindling.Native.ProcFs.CommandLineContains(shell.Id, elsewhere), TimeSpan.FromSeconds(30)), "the processes never ran");
            IReadOnlyList<int> found = ProcessInspector.WorkingUnder(Path.Combine(_root, "jobs"));

            Assert.Contains(vm.Id, found);
            Assert.DoesNotContain(shell.Id, found);
            Assert.DoesNotContain(Environment.ProcessId, found);
        }
        finally
        {
            await ProcessInspector.KillAndWaitAsync(vm.Id, TimeSpan.FromSeconds(10));
            await ProcessInspector.KillAndWaitAsync(shell.Id, TimeSpan.FromSeconds(10));
        }
    }
}
