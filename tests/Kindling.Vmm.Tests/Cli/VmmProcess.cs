using System.Diagnostics;

namespace Kindling.Vmm.Tests.Cli;

/// <summary>Runs the built kindling-vmm executable (copied next to the tests) as a real process.</summary>
internal static class VmmProcess
{
    public static string ExecutablePath => Path.Combine(AppContext.BaseDirectory, "kindling-vmm");

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static async Task<Result> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var info = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var clock = Stopwatch.StartNew();
        using Process process = Process.Start(info) ?? throw new InvalidOperationException("cannot start kindling-vmm");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new Result(process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }
}
