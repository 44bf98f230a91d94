using System.Globalization;
using System.Text.Json.Nodes;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The MMDS document of images/guest/PROTOCOL.md: <c>kindling/{job, secrets, github, network}</c>, every leaf a
/// string. Holds secrets and the JIT config: it is only ever sent to the VMM's API socket, never written to disk.
/// </summary>
public static class MmdsTree
{
    public static JsonObject Build(
        long jobId, string jobName, TimeSpan timeout, JobSpec? spec,
        IReadOnlyDictionary<string, string> secrets, string? encodedJitConfig, GuestNetwork? net)
    {
        var job = new JsonObject
        {
            ["id"] = jobId.ToString(CultureInfo.InvariantCulture),
            ["name"] = jobName,
            ["timeout_seconds"] = ((long)timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            ["step_count"] = (spec?.Steps.Count ?? 0).ToString(CultureInfo.InvariantCulture),
            ["steps"] = Steps(spec),
            ["env"] = Map(spec?.Env),
        };
        var kindling = new JsonObject { ["job"] = job, ["secrets"] = Map(secrets) };
        if (encodedJitConfig is not null)
        {
            kindling["github"] = new JsonObject { ["jitconfig"] = encodedJitConfig };
        }

        if (net is not null)
        {
            kindling["network"] = new JsonObject
            {
                ["address"] = $"{net.GuestAddress}/{GuestNetwork.PrefixLength}", ["gateway"] = net.HostAddress, ["dns"] = net.HostAddress,
            };
        }

        return new JsonObject { ["kindling"] = kindling };
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
    public static JsonObject Step(StepSpec s) => new()
    {
        ["name"] = s.Name, ["run"] = s.Run, ["shell"] = s.Shell, ["working_directory"] = s.WorkingDirectory,
        ["if"] = s.If, ["continue_on_error"] = s.ContinueOnError ? "true" : "false", ["env"] = Map(s.Env),
    };

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
