using System.Net;
using Kindling.Runner.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary>
/// Slows password guessing on the login form: after <see cref="WebOptions.LoginFailuresBeforeLockout"/> failed
/// sign-ins in a row from one client address, that address may not try again for
/// <see cref="WebOptions.LoginLockout"/>. A successful sign-in clears the address's count; so does the lockout
/// running out. Behind a reverse proxy every client shares the proxy's address (the runner listens on loopback
/// by default), so a lockout there holds for everyone until it ends.
/// </summary>
public sealed partial class LoginThrottle
{
    /// <summary>Addresses remembered at most; beyond it, ones with no failure for a lockout period are forgotten.</summary>
    private const int MaxTracked = 10_000;

    private readonly Dictionary<IPAddress, Entry> _entries = [];
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly ILogger<LoginThrottle> _log;
    private readonly int _limit;
    private readonly TimeSpan _lockout;

    public LoginThrottle(IOptions<KindlingOptions> options, TimeProvider time, ILogger<LoginThrottle> log)
    {
        _time = time;
        _log = log;
        _limit = options.Value.Web.LoginFailuresBeforeLockout;
        _lockout = options.Value.Web.LoginLockout;
    }

    /// <summary>When <paramref name="client"/> is locked out, how long until it may try again; otherwise null.</summary>
    public TimeSpan? RetryAfter(IPAddress client)
    {
        if (_limit <= 0)
        {
            return null;
        }

        lock (_gate)
        {
            if (!_entries.TryGetValue(client, out Entry e) || e.LockedUntil is not { } until)
            {
                return null;
            }

            TimeSpan left = until - _time.GetUtcNow();
            if (left > TimeSpan.Zero)
            {
                return left;
            }

            _entries.Remove(client); // the lockout ran out: a fresh count
            return null;
        }
    }

    /// <summary>Counts a failed sign-in; returns how long the address is now locked out, when this failure locked it.</summary>
    public TimeSpan? Failed(IPAddress client)
    {
        if (_limit <= 0)
        {
            return null;
        }

        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_entries.Count >= MaxTracked)
            {
                Prune(now);
            }

            // Failures further apart than a lockout period are not "in a row": the count starts again.
            if (!_entries.TryGetValue(client, out Entry e) || e.LastFailure + _lockout <= now)
            {
                e = default;
            }

            e = e with { Failures = e.Failures + 1, LastFailure = now };
            if (e.Failures >= _limit)
            {
                e = e with { LockedUntil = now + _lockout };
            }

            _entries[client] = e;
            if (e.LockedUntil is null)
            {
                return null;
            }
        }

        LogLockedOut(_log, _limit, client, _lockout);
        return _lockout;
    }

    public void Succeeded(IPAddress client)
    {
        lock (_gate)
        {
            _entries.Remove(client);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach ((IPAddress address, Entry e) in _entries.ToList())
        {
            if ((e.LockedUntil ?? e.LastFailure + _lockout) <= now)
            {
                _entries.Remove(address);
            }
        }
    }

    private readonly record struct Entry(int Failures, DateTimeOffset LastFailure, DateTimeOffset? LockedUntil);

    [LoggerMessage(Level = LogLevel.Warning, Message = "admin page: {Failures} failed sign-ins in a row from {Client}; refusing its sign-ins for {Lockout}")]
    private static partial void LogLockedOut(ILogger log, int failures, IPAddress client, TimeSpan lockout);
}
