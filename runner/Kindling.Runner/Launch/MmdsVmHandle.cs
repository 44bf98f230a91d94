using System.Text.Json.Nodes;

namespace Kindling.Runner.Launch;

/// <summary>A started VM whose MMDS the runner can still change (PATCH /mmds), for host-driven steps.</summary>
internal sealed class MmdsVmHandle(IVmHandle inner, Func<JsonObject, CancellationToken, Task> patch) : IVmHandle
{
    public int Pid => inner.Pid;

    public Task<int> Exited => inner.Exited;

    public Task KillAsync() => inner.KillAsync();

    public Task PatchMmdsAsync(JsonObject patch1, CancellationToken ct) => patch(patch1, ct);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
