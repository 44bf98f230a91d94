using System.Globalization;
using System.Text.Json.Nodes;
using Kindling.Runner.Launch;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The MMDS document of images/guest/PROTOCOL.md: <c>kindling/{job, secrets, github, network}</c>, every leaf a
/// string, each key one of <see cref="MmdsKeys"/>. Holds secrets and the JIT config: it is only ever sent to the VMM's API socket, never written to disk.
/// </summary>
public static class MmdsTree
{
    public static JsonObject Build(
        long jobId, string jobName, TimeSpan timeout, JobSpec? spec,
        IReadOnlyDictionary<string, string> secrets, string? encodedJitConfig, GuestNetwork? net, string mode = MmdsKeys.Job.ModeAll, DateTimeOffset? now = null,
        TimeSpan? stopGrace = null)
    {
        var job = new JsonObject
        {
            [MmdsKeys.Job.Id] = jobId.ToString(CultureInfo.InvariantCulture),
            [MmdsKeys.Job.Name] = jobName,
            [MmdsKeys.Job.TimeoutSeconds] = ((long)timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture),
        };
        if (stopGrace is { } grace)
        {
            // the agent's time between TERM and KILL for a step it ends (a cancel, a step's timeout-minutes)
            job[MmdsKeys.Job.StopGraceMs] = Math.Max(1L, (long)grace.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        }

        if (spec?.User is { } user)
        {
            job[MmdsKeys.Job.User] = user;
        }

        if (spec?.Hostname is { } hostname)
        {
            job[MmdsKeys.Job.Hostname] = hostname;
        }

        switch (mode)
        {
            case MmdsKeys.Job.ModeAll:
                job[MmdsKeys.Job.StepCount] = (spec?.Steps.Count ?? 0).ToString(CultureInfo.InvariantCulture);
                job[MmdsKeys.Job.Steps] = Steps(spec);
                break;
            case MmdsKeys.Job.ModeHost:
                // The steps come one at a time at kindling/steps/N (HostStepLoop), decided when their turn comes.
                job[MmdsKeys.Job.Mode] = MmdsKeys.Job.ModeHost;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, $"a job's mode is {MmdsKeys.Job.ModeAll} or {MmdsKeys.Job.ModeHost}");
        }

        job[MmdsKeys.Job.Env] = Map(spec?.Env);
        var kindling = new JsonObject { [MmdsKeys.Root.Job] = job, [MmdsKeys.Root.Secrets] = Map(secrets) };
        if (encodedJitConfig is not null)
        {
            kindling[MmdsKeys.Root.GitHub] = new JsonObject { [MmdsKeys.GitHub.JitConfig] = encodedJitConfig };
        }

        if (net is not null)
        {
            kindling[MmdsKeys.Root.Network] = new JsonObject
            {
                [MmdsKeys.Network.Address] = $"{net.GuestAddress}/{GuestNetwork.PrefixLength}", [MmdsKeys.Network.Gateway] = net.HostAddress, [MmdsKeys.Network.Dns] = net.HostAddress,
            };
        }

        if (now is { } clock)
        {
            // The host's clock and fresh entropy: a guest restored from a snapshot steps its clock and reseeds its
            // RNG from them before any step runs (PROTOCOL.md, "Restored guests"); a cold boot does the same.
            kindling[MmdsKeys.Host.Key] = new JsonObject
            {
                [MmdsKeys.Host.Clock] = clock.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                [MmdsKeys.Host.Generation] = "0",
                [MmdsKeys.Host.Seed] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            };
        }

        return new JsonObject { [MmdsKeys.Kindling] = kindling };
    }

    private static JsonObject Steps(JobSpec? spec)
    {
        var steps = new JsonObject();
        if (spec is null)
        {
            return steps;
        }

        for (int i = 0; i < spec.Steps.Count; i++)
        {
            steps[i.ToString(CultureInfo.InvariantCulture)] = Step(spec.Steps[i]);
        }

        return steps;
    }

    /// <summary>One step's object (<c>job/steps/N</c>).</summary>
    public static JsonObject Step(StepSpec s)
    {
        var step = new JsonObject
        {
            [MmdsKeys.Step.Name] = s.Name, [MmdsKeys.Step.Run] = s.Run, [MmdsKeys.Step.Shell] = s.Shell, [MmdsKeys.Step.WorkingDirectory] = s.WorkingDirectory,
            [MmdsKeys.Step.If] = s.If, [MmdsKeys.Step.ContinueOnError] = s.ContinueOnError ? "true" : "false",
        };
        if (s.Timeout is { } limit)
        {
            // Whole seconds, at least one: a limit under a second still limits.
            step[MmdsKeys.Step.TimeoutSeconds] = Math.Max(1L, (long)Math.Ceiling(limit.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        step[MmdsKeys.Step.Env] = Map(s.Env);
        return step;
    }

    private static JsonObject Map(IReadOnlyDictionary<string, string>? values)
    {
        var o = new JsonObject();
        foreach ((string k, string v) in values ?? new Dictionary<string, string>())
        {
            o[k] = v;
        }

        return o;
    }
}
