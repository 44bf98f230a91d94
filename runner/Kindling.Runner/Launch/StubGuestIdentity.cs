using System.Diagnostics;
using System.Globalization;

namespace Kindling.Runner.Launch;

/// <summary>
/// The stub guest's version of the agent's job user and hostname (images/guest/agent.sh, PROTOCOL.md <c>doc_job user</c>
/// and <c>doc_job hostname</c>). The stub's steps are processes of this host, so it resolves the user against this
/// host's /etc/passwd and /etc/group as the agent does against the image's (a name missing there fails the job with
/// docker's message), runs each step through util-linux <c>setpriv</c>, and gives it its hostname in a UTS namespace
/// of its own (<c>unshare --uts</c>), never the host's. Both need root: where the stub is not root it refuses the job
/// rather than run the steps as the wrong user or with the host's name.
/// </summary>
internal sealed record StubGuestIdentity
{
    /// <summary>Words put before the step's command (empty: neither user nor hostname).</summary>
    public IReadOnlyList<string> Prefix { get; init; } = [];
    /// <summary>HOME of the job's user (its passwd entry's, else /); null: unchanged.</summary>
    public string? Home { get; init; }
    /// <summary>"UID:GID" that the workspace and command files are handed to; null: no user.</summary>
    public string? Owner { get; init; }

    public static StubGuestIdentity None { get; } = new();

    /// <summary>The identity for the job's user and hostname fields, or the agent's error (the job fails at set-up).</summary>
    public static (StubGuestIdentity Identity, string? Error) For(string? user, string? hostname, bool root, string etc = "/etc")
    {
        if (user is null && hostname is null)
        {
            return (None, null);
        }

        if (!root)
        {
            return (None, $"the stub guest runs steps as this host's user and cannot {(user is null ? $"set the hostname '{hostname}'" : $"run them as user '{user}'")} (only root can): run as root, or on a microVM");
        }

        List<string> prefix = [];
        if (hostname is not null)
        {
            prefix.AddRange(["unshare", "--uts", "/bin/sh", "-c", "hostname \"$0\" || exit 125; exec \"$@\"", hostname]);
        }

        if (user is null)
        {
            return (new StubGuestIdentity { Prefix = prefix }, null);
        }

        int colon = user.IndexOf(':', StringComparison.Ordinal);
        string u = colon < 0 ? user : user[..colon];
        string? g = colon < 0 ? null : user[(colon + 1)..];
        string[]? entry = Entry(Path.Combine(etc, "passwd"), u.All(char.IsAsciiDigit) ? 2 : 0, u);
        if (entry is null && !u.All(char.IsAsciiDigit))
        {
            return (None, $"unable to find user {u}: no matching entries in passwd file");
        }

        string uid = entry?[2] ?? u;
        string gid = entry?[3] ?? "0";
        string home = entry is { Length: > 5 } && entry[5].Length > 0 ? entry[5] : "/";
        if (g is not null)
        {
            if (g.All(char.IsAsciiDigit))
            {
                gid = g;
            }
            else if (Entry(Path.Combine(etc, "group"), 0, g) is { Length: > 2 } group)
            {
                gid = group[2];
            }
            else
            {
                return (None, $"unable to find group {g}: no matching entries in group file");
            }
        }

        string groups = entry is not null && g is null ? "--init-groups" : "--clear-groups";
        prefix.AddRange(["setpriv", $"--reuid={uid}", $"--regid={gid}", groups, "--"]);
        return (new StubGuestIdentity { Prefix = prefix, Home = home, Owner = $"{uid}:{gid}" }, null);
    }

    /// <summary>Hands <paramref name="path"/> (recursively) to the job's user, as the agent chowns the workspace and the command files.</summary>
    public void HandOver(string path)
    {
        if (Owner is null)
        {
            return;
        }

        using Process chown = Process.Start(new ProcessStartInfo("chown", ["-R", Owner, path]) { UseShellExecute = false })!;
        chown.WaitForExit();
        if (chown.ExitCode != 0)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"chown -R {Owner} {path} exited {chown.ExitCode}"));
        }
    }

    private static string[]? Entry(string file, int field, string value) =>
        File.Exists(file)
            ? File.ReadLines(file).Select(l => l.Split(':')).FirstOrDefault(f => f.Length > field && f[field] == value)
            : null;
}
