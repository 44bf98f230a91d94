using System.Diagnostics;
using System.Globalization;

namespace Kindling.Testing;

/// <summary>
/// A private PostgreSQL for tests and benchmarks: <c>initdb</c> into a temporary directory, the server listening only
/// on a unix socket in that directory (no TCP port), trust authentication for the one user <c>kindling</c>, no fsync
/// (the data is thrown away; a commit is still written before it is acknowledged, so a server stopped at once loses
/// nothing committed, as a real one would not). PostgreSQL refuses to run as root, so as root the
/// server runs as the <c>postgres</c> user (Debian's package creates it) or <c>nobody</c>. Debian's binaries are
/// looked up in <c>/usr/lib/postgresql/N/bin</c> (tests/run.sh installs the <c>postgresql</c> package).
/// </summary>
public sealed class PostgresServer : IDisposable
{
    public const string User = "kindling";

    private readonly string _bin;
    private readonly string? _runAs;

    private PostgresServer(string bin, string directory, int port, string? runAs)
    {
        (_bin, Directory, Port, _runAs) = (bin, directory, port, runAs);
    }

    /// <summary>The temporary directory: <c>data/</c>, the socket and <c>server.log</c>.</summary>
    public string Directory { get; }

    /// <summary>The socket's port number (names the socket file; nothing listens on TCP).</summary>
    public int Port { get; }

    public string DataDirectory => Path.Combine(Directory, "data");

    /// <summary>Why PostgreSQL cannot be started here (its binaries are absent), or null.</summary>
    public static string? SkipReason => FindBin() is null
        ? "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); tests/run.sh installs Debian's postgresql package"
        : null;

    /// <summary>
    /// An Npgsql connection string for <paramref name="database"/> on this server. Opening a connection may take 15 s
    /// (generous: on a loaded CI the first open of a new database, which loads its types, has taken more than 5); a
    /// stopped server refuses at once, so no test waits on it.
    /// </summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host={Directory};Port={Port};Username={User};Database={database};Maximum Pool Size=50;Timeout=15;Command Timeout=30";

    public static PostgresServer Start()
    {
        string bin = FindBin() ?? throw new InvalidOperationException(SkipReason);
        string dir = System.IO.Directory.CreateTempSubdirectory("kindling-pg-").FullName;
        string? runAs = Environment.UserName == "root" ? (UserExists("postgres") ? "postgres" : "nobody") : null;
        if (runAs is not null)
        {
            Run("chown", ["-R", runAs, dir], null);
        }

        int port = 20000 + Random.Shared.Next(40000);
        var server = new PostgresServer(bin, dir, port, runAs);
        server.Pg("initdb", ["-D", server.DataDirectory, "-U", User, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        server.StartServer();
        return server;
    }

    /// <summary>Stops the server at once (as a crash would: no checkpoint), then starts it again on the same socket.</summary>
    public void Restart()
    {
        Stop();
        StartServer();
    }

    /// <summary>Stops the server at once (<c>-m immediate</c>): every connection is cut.</summary>
    public void Stop() => Pg("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]);

    public void StartServer() => Pg("pg_ctl", [
        "-D", DataDirectory, "-l", Path.Combine(Directory, "server.log"), "-w", "-t", "60",
        "-o", $"-k {Directory} -p {Port} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=300",
        "start"]);

    public void Dispose()
    {
        try
        {
            Stop();
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private void Pg(string tool, string[] args) => Run(Path.Combine(_bin, tool), args, _runAs);

    private static void Run(string file, string[] args, string? runAs)
    {
        var psi = new ProcessStartInfo(runAs is null ? file : "runuser") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (runAs is not null)
        {
            foreach (string a in (string[])["-u", runAs, "--", file])
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C";
        using Process p = Process.Start(psi)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(file)} {string.Join(' ', args)} exited {p.ExitCode}: {error}{output.Result}"));
        }
    }

    private static bool UserExists(string name) => File.ReadLines("/etc/passwd").Any(l => l.StartsWith(name + ":", StringComparison.Ordinal));

    private static string? FindBin() =>
        System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out int v) ? v : 0)
                .FirstOrDefault()
            : null;
}
