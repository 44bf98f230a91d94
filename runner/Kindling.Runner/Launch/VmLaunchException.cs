namespace Kindling.Runner.Launch;

/// <summary>A VM could not be started; the message names the step and the VMM's own reason.</summary>
public sealed class VmLaunchException(string message, Exception? inner = null) : Exception(message, inner);
