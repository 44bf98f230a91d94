namespace Kindling.Runner.Replay;

/// <summary>Bad input to <c>kindling replay</c>, found before any VM starts; the message says what to change.</summary>
public sealed class ReplayException(string message, Exception? inner = null) : Exception(message, inner);
