namespace Kindling.Runner.Replay.Expressions;

/// <summary>An expression that does not parse or cannot be evaluated; the message quotes it and says why.</summary>
public sealed class ExpressionException(string message) : Exception(message);
