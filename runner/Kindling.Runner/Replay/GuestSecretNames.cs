using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Replay;

/// <summary>
/// The secrets one job's guest gets, by environment name, each with its recipe. The guest agent exports every
/// secret for the whole job, before the job's env, so a name set from a secret must not also be set plainly in the
/// job's env. A secret in a run: script is a placeholder naming its guest secret (<see cref="SecretPlaceholders"/>):
/// the agent writes the value into the script in the guest.
/// </summary>
internal sealed class GuestSecretNames(IReadOnlySet<string> jobPlainEnv)
{
    public const string GeneratedPrefix = "KINDLING_SECRET_";

    private readonly Dictionary<string, IReadOnlyList<SecretPart>> _refs = new(StringComparer.Ordinal);
    private int _generated;

    public IReadOnlyDictionary<string, IReadOnlyList<SecretPart>> Refs => _refs;

    /// <summary>An env variable whose value comes from secrets: the guest gets it under its own name.</summary>
    public void AddEnv(string name, IReadOnlyList<SecretPart> parts, string where)
    {
        if (jobPlainEnv.Contains(name))
        {
            throw new ReplayException(
                $"{where}: env {name} is set from a secret here but the job's env also sets {name}; the guest gives secrets to the " +
                "whole job and the job's env would hide this one: use another name for one of them");
        }

        if (_refs.TryGetValue(name, out IReadOnlyList<SecretPart>? existing) && !existing.SequenceEqual(parts))
        {
            throw new ReplayException(
                $"{where}: env {name} is set from different secrets in two places of this job; the guest gives secrets to the whole job, " +
                "so each name can hold one: use different names");
        }

        _refs[name] = parts;
    }

    /// <summary>The guest secret a run: script's placeholder names: the secret's own name when that is free, else a generated one.</summary>
    public string ForScript(IReadOnlyList<SecretPart> parts, IReadOnlySet<string> stepPlainEnv)
    {
        if (parts is [{ Secret: { } name }] && !jobPlainEnv.Contains(name) && !stepPlainEnv.Contains(name) &&
            (!_refs.TryGetValue(name, out IReadOnlyList<SecretPart>? mine) || mine.SequenceEqual(parts)))
        {
            _refs[name] = parts;
            return name;
        }

        foreach ((string n, IReadOnlyList<SecretPart> p) in _refs)
        {
            if (n.StartsWith(GeneratedPrefix, StringComparison.Ordinal) && p.SequenceEqual(parts))
            {
                return n;
            }
        }

        string generated = GeneratedPrefix + (++_generated).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _refs[generated] = parts;
        return generated;
    }
}
