namespace Kindling.Runner.Forges;

/// <summary>
/// The forge could not be reached or answered with a transient error (5xx, timeout, rate limit, a conflict left by
/// a retried request) after the client's own retries. Nothing of the job ran: the runner re-queues it and tries
/// again later instead of failing it, because the forge job is still waiting there.
/// </summary>
public sealed class ForgeUnavailableException(string message, Exception inner) : Exception(message, inner);
