namespace Kindling.Runner.Replay.Workflows;

/// <summary>
/// A job's <c>container:</c> (an image name, or a mapping with image, env, options, credentials, ports, volumes), as
/// written: values are templates, evaluated by the planner (<see cref="ContainerJob"/>).
/// </summary>
public sealed record JobContainer
{
    public required string Image { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];
    /// <summary><c>options:</c>, docker create's options as one string.</summary>
    public string? Options { get; init; }
    /// <summary><c>credentials:</c> username and password templates; null when the key is absent.</summary>
    public (string? Username, string? Password)? Credentials { get; init; }
    public IReadOnlyList<string> Ports { get; init; } = [];
    public IReadOnlyList<string> Volumes { get; init; } = [];
}
