namespace Kindling.Runner.Replay;

/// <summary>Bad input to <c>kindling replay</c>, found before any VM starts; the message says what to change.</summary>
public class ReplayException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A job that cannot be planned before the jobs it needs have run (its matrix comes from their outputs): a dry run
/// says so; a run plans it once they have.
/// </summary>
public sealed class NeedsFirstException(string message) : ReplayException(message);
