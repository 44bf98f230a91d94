using System.Globalization;
using Kindling.Runner.Configuration;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Scheduling;

/// <summary>
/// Whether this host takes new jobs. A drained host keeps polling and queueing, and lets running jobs finish, but
/// admits nothing until it is undrained. The state is a marker file in the state directory, so a drain survives a
/// restart (an operator draining a host for maintenance does not want it to start jobs when it comes back).
/// </summary>
public sealed class HostDrain
{
    public const string MarkerFile = "drained";

    private readonly string _marker;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly FleetMembership? _fleet;

    public HostDrain(IOptions<KindlingOptions> options, TimeProvider time, FleetMembership? fleet = null)
    {
        _marker = Path.Combine(options.Value.StateDirectory, MarkerFile);
        _time = time;
        _fleet = fleet;
    }

    /// <summary>Drained here (the marker file) or through the fleet's store (another host's admin page or API).</summary>
    public bool IsDrained => File.Exists(_marker) || _fleet?.DrainedBy is not null;

    /// <summary>Who drained the host and when ("admin at 2025-01-01T00:00:00Z"), or null when it takes jobs.</summary>
    public string? Detail
    {
        get
        {
            try
            {
                return File.ReadAllText(_marker).Trim();
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return _fleet?.DrainedBy;
            }
        }
    }

    public void Drain(string by)
    {
        lock (_gate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_marker)!);
            string temp = _marker + ".tmp";
            File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture, $"{by} at {_time.GetUtcNow():u}\n"));
            File.Move(temp, _marker, overwrite: true);
        }

        _fleet?.SetDrain(by); // so that the fleet sees it (GET /api/hosts)
    }

    public void Undrain()
    {
        lock (_gate)
        {
            File.Delete(_marker);
        }

        _fleet?.SetDrain(null);
    }
}
