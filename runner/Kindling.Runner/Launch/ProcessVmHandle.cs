using System.Diagnostics;

namespace Kindling.Runner.Launch;

/// <summary>A VM backed by a child process of the runner.</summary>
internal sealed class ProcessVmHandle : IVmHandle
{
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ProcessVmHandle(Process process)
    {
        _process = process;
        Pid = process.Id;
        _ = WaitAsync();
    }

    public int Pid { get; }

    public Task<int> Exited => _exited.Task;

    /// <summary>Lets a simulated guest decide the exit code (stub launcher).</summary>
    public int? ExitCodeOverride { get; set; }

    public async Task KillAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }

        await Exited;
    }

    public async ValueTask DisposeAsync()
    {
        if (!Exited.IsCompleted)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private async Task WaitAsync()
    {
        await _process.WaitForExitAsync();
        _exited.TrySetResult(ExitCodeOverride ?? _process.ExitCode);
    }
}
