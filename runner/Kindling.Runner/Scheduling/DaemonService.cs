using Microsoft.Extensions.Hosting;

namespace Kindling.Runner.Scheduling;

/// <summary>Runs the dispatcher loop for the lifetime of the host.</summary>
public sealed class DaemonService(JobDispatcher dispatcher) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => dispatcher.RunAsync(stoppingToken);
}
