using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Launch;

/// <summary>
/// A simulated VM for tests, benchmarks and crash drills: a real placeholder process (so pids, reaping and
/// leftovers are real; its command line carries the VM id) and a simulated guest agent that reads the MMDS
/// document it was given and writes the agent's serial framing into the serial FIFO. Each step's <c>run</c> is
/// interpreted line by line: <c>echo TEXT</c> (one pair of enclosing quotes dropped; $NAME and ${NAME} from the
/// secrets, the job's env and the step's env, in the agent's order — raw, to prove host-side masking), <c>sleep SECONDS</c>, <c>exit CODE</c>. GitHub jobs (a jitconfig, no steps) "run" for
/// <see cref="JobDuration"/> and succeed.
/// </summary>
public sealed class StubVmLauncher(TimeSpan jobDuration, TimeSpan bootDelay = default) : IVmLauncher
{
    /// <summary>What the simulated agent "returns" when its VM was killed under it (it writes no job-end).</summary>
    private const int KilledExit = -1;

    public TimeSpan JobDuration => jobDuration;

    /// <summary>Timestamp (Stopwatch) of the last spawn, for latency benchmarks.</summary>
    public long LastSpawnTimestamp { get; private set; }

    public Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        // Like a real VMM it outlives a crashed runner (the reaper kills it), does not hold the runner's stdio, and
        // is one process (no children a kill of its pid would leave): a shell blocked reading a FIFO it also holds
        // open for writing, which never ends. Its command line carries the VM id ($0).
        string hold = Path.Combine(request.Workspace.Directory, "stub-vm.fifo");
        Interop.Libc.MakeFifo(hold);
        Process process = DetachedProcess.Start("/bin/sh", ["-c", "exec 3<>\"$1\"; read -r never <&3", request.VmId, hold], request.Workspace.Directory, "/dev/null", "/dev/null");
        LastSpawnTimestamp = Stopwatch.GetTimestamp();
        var handle = new ProcessVmHandle(process);
        onSpawned(handle.Pid);
        _ = Task.Run(() => GuestAsync(request, handle), CancellationToken.None);
        return Task.FromResult<IVmHandle>(handle);
    }

    private async Task GuestAsync(VmLaunchRequest request, ProcessVmHandle handle)
    {
        try
        {
            // Opening a FIFO for writing waits for its reader (the LogPump), as the VMM's would.
            await using var fifo = new FileStream(request.Workspace.SerialFifoPath, FileMode.Open, FileAccess.Write);
            await using var w = new StreamWriter(fifo, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
            int exit = await RunAgentAsync(request.Mmds, w, handle.Exited);
            handle.ExitCodeOverride = 0; // the guest "rebooted": the VMM exits 0 whatever the job's result
            _ = exit;
        }
        catch (IOException)
        {
            // the reader went away (the runner stopped the VM)
        }
        finally
        {
            try
            {
                Process.GetProcessById(handle.Pid).Kill();
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    /// <summary>echo's argument without one pair of enclosing quotes, as a shell would print it.</summary>
    private static string Unquote(string text) =>
        text.Length >= 2 && (text[0] is '\'' or '"') && text[^1] == text[0] ? text[1..^1] : text;

    private async Task<int> RunAgentAsync(JsonObject mmds, StreamWriter w, Task exited)
    {
        JsonNode kindling = mmds["kindling"]!;
        JsonNode job = kindling["job"]!;
        // The agent's order: secrets, then the job's env, then the step's env (later wins).
        Dictionary<string, string> vars = [];
        foreach ((string k, JsonNode? v) in kindling["secrets"]!.AsObject())
        {
            vars[k] = v!.GetValue<string>();
        }

        foreach ((string k, JsonNode? v) in job["env"]!.AsObject())
        {
            vars[k] = v!.GetValue<string>();
        }

        await w.WriteLineAsync("stub guest: booting");
        await Task.WhenAny(Task.Delay(bootDelay), exited);
        await w.WriteLineAsync($"##kindling[job-start id={job["id"]!.GetValue<string>()}]");
        if (kindling["github"]?["jitconfig"] is { } jit)
        {
            await w.WriteLineAsync($"runner: starting the GitHub runner with a JIT config of {jit.GetValue<string>().Length} characters");
            await Task.WhenAny(Task.Delay(jobDuration), exited);
            await w.WriteLineAsync("##kindling[job-end result=succeeded exit=0]");
            return 0;
        }

        await Task.WhenAny(Task.Delay(jobDuration), exited);
        int count = int.Parse(job["step_count"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        int firstFailure = 0;
        for (int n = 0; n < count; n++)
        {
            if (exited.IsCompleted)
            {
                return KilledExit; // the VM was stopped: a dead guest writes nothing more
            }

            JsonNode step = job["steps"]![n.ToString(CultureInfo.InvariantCulture)]!;
            string name = step["name"]!.GetValue<string>();
            string cond = step["if"]!.GetValue<string>();
            bool run = cond switch
            {
                "always()" => true,
                "failure()" => firstFailure != 0,
                "cancelled()" => false,
                _ => firstFailure == 0,
            };
            if (!run)
            {
                await w.WriteLineAsync($"##kindling[step-skip n={n} name={FramingLine.EncodeText(name)} reason=if]");
                continue;
            }

            await w.WriteLineAsync($"##kindling[step-start n={n} name={FramingLine.EncodeText(name)}]");
            var stepVars = new Dictionary<string, string>(vars);
            foreach ((string k, JsonNode? v) in step["env"]?.AsObject() ?? [])
            {
                stepVars[k] = v!.GetValue<string>();
            }

            int code = 0;
            foreach (string line in step["run"]!.GetValue<string>().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (exited.IsCompleted)
                {
                    return KilledExit;
                }

                if (line.StartsWith("echo ", StringComparison.Ordinal))
                {
                    string text = Unquote(line[5..]);
                    foreach ((string k, string v) in stepVars.OrderByDescending(kv => kv.Key.Length))
                    {
                        text = text.Replace("${" + k + "}", v, StringComparison.Ordinal).Replace("$" + k, v, StringComparison.Ordinal);
                    }

                    await w.WriteLineAsync(text);
                }
                else if (line.StartsWith("sleep ", StringComparison.Ordinal))
                {
                    await Task.WhenAny(Task.Delay(TimeSpan.FromSeconds(double.Parse(line[6..], CultureInfo.InvariantCulture))), exited);
                }
                else if (line.StartsWith("exit ", StringComparison.Ordinal))
                {
                    code = int.Parse(line[5..], CultureInfo.InvariantCulture);
                    break;
                }
            }

            await w.WriteLineAsync($"##kindling[step-end n={n} exit={code} seconds=0.01]");
            if (code != 0 && step["continue_on_error"]!.GetValue<string>() != "true" && firstFailure == 0)
            {
                firstFailure = code;
            }
        }

        await w.WriteLineAsync(firstFailure == 0
            ? "##kindling[job-end result=succeeded exit=0]"
            : $"##kindling[job-end result=failed exit={firstFailure}]");
        return firstFailure;
    }
}
