using System.Text;

namespace Kindling.Vmm.Tests.Native;

public sealed class ProcessRunnerTests
{
    [Fact]
    public async Task RunAsync_FailingProgram_ReturnsExitCodeAndBothStreams()
    {
        ProcessResult r = await ProcessRunner.RunAsync("sh", ["-c", "echo out; echo err >&2; exit 3"], cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(new ProcessResult(3, "out\n", "err\n"), r);
    }

    [Fact]
    public async Task RunAsync_MissingProgram_ThrowsProcessStartExceptionNamingIt()
    {
        var e = await Assert.ThrowsAsync<ProcessStartException>(() =>
            ProcessRunner.RunAsync("/nonexistent/kindling-tool", [], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("/nonexistent/kindling-tool", e.FileName);
        Assert.Contains("/nonexistent/kindling-tool", e.Message, StringComparison.Ordinal);
        Assert.NotEmpty(e.Reason);
    }

    [Fact]
    public async Task RunAsync_PastTimeout_KillsAndThrowsTimeout()
    {
        string marker = $"kindling-runner-timeout-{Guid.NewGuid():N}";
        await Assert.ThrowsAsync<ProcessTimeoutException>(() => ProcessRunner.RunAsync(
            "sh", ["-c", $"sleep 600; : {marker}"], new ProcessOptions { Timeout = TimeSpan.FromMilliseconds(200) },
            TestContext.Current.CancellationToken));
        Assert.DoesNotContain(ProcFs.AllPids(), pid => ProcFs.CommandLineContains(pid, marker) && !ProcFs.IsZombie(pid));
    }

    [Fact]
    public async Task RunAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        Task<ProcessResult> run = ProcessRunner.RunAsync("sleep", ["600"], cancellationToken: cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    [Fact]
    public async Task RunAsync_OptionsApplied_DirectoryEnvironmentAndLines()
    {
        List<string> lines = [];
        ProcessResult r = await ProcessRunner.RunAsync(
            "sh", ["-c", "pwd; echo \"$KINDLING_TEST_VALUE\""],
            new ProcessOptions
            {
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string> { ["KINDLING_TEST_VALUE"] = "v1" },
                OnOutputLine = lines.Add,
            },
            TestContext.Current.CancellationToken);
        Assert.Equal(["/", "v1"], lines);
        Assert.Equal("/\nv1\n", r.StandardOutput);
    }

    [Fact]
    public async Task RunAsync_ReadOutput_GetsTheStream()
    {
        string? read = null;
        ProcessResult r = await ProcessRunner.RunAsync(
            "printf", ["abc"],
            new ProcessOptions { ReadOutput = async (s, ct) => read = await new StreamReader(s, Encoding.UTF8).ReadToEndAsync(ct) },
            TestContext.Current.CancellationToken);
        Assert.Equal("abc", read);
        Assert.Equal("", r.StandardOutput);
    }

    [Fact]
    public void Run_Synchronous_SameResult() =>
        Assert.Equal(0, ProcessRunner.Run("true", []).ExitCode);
}
