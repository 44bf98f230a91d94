namespace Kindling.Vmm.Api;

/// <summary>The instance state reported by GET / (Firecracker's InstanceInfo.state values).</summary>
public enum VmmState
{
    NotStarted,
    Running,
    Paused,
}

public static class VmmStateNames
{
    public static string ToApiString(this VmmState state) => state switch
    {
        VmmState.NotStarted => "Not started",
        VmmState.Running => "Running",
        VmmState.Paused => "Paused",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };
}
