using System.Threading.Channels;

namespace Kindling.Vmm.Api;

/// <summary>
/// The only link between the API thread and the VMM loop: the API sends <see cref="VmmAction"/> records and awaits
/// the outcome; the VMM loop drains the channel into its <see cref="VmmController"/>.
/// </summary>
public sealed class VmmActionChannel
{
    private readonly Channel<Request> _channel = Channel.CreateBounded<Request>(
        new BoundedChannelOptions(64) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>API side: sends <paramref name="action"/> and waits for the VMM loop's answer.</summary>
    public async Task<VmmOutcome> SendAsync(VmmAction action, CancellationToken cancellationToken)
    {
        var request = new Request(action, new TaskCompletionSource<VmmOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _channel.Writer.WriteAsync(request, cancellationToken);
        return await request.Reply.Task.WaitAsync(cancellationToken);
    }

    /// <summary>VMM loop side: handles every pending action without waiting; returns how many it handled.</summary>
    public int ProcessPending(VmmController controller)
    {
        int n = 0;
        while (_channel.Reader.TryRead(out Request? request))
        {
            request.Reply.TrySetResult(controller.Handle(request.Action));
            n++;
        }

        return n;
    }

    /// <summary>VMM loop side: handles actions until <paramref name="cancellationToken"/> fires or <see cref="Complete"/> is called.</summary>
    public async Task RunAsync(VmmController controller, CancellationToken cancellationToken)
    {
        while (await _channel.Reader.WaitToReadAsync(cancellationToken))
        {
            ProcessPending(controller);
        }
    }

    /// <summary>No more actions will be sent (the VMM is shutting down).</summary>
    public void Complete() => _channel.Writer.TryComplete();

    private sealed record Request(VmmAction Action, TaskCompletionSource<VmmOutcome> Reply);
}
