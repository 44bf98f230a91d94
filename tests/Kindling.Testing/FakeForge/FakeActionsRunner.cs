using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Kindling.Testing.FakeForge;

/// <summary>
/// A test stand-in for the official actions/runner release, laid out as actions-runner-linux-x64-&lt;Version&gt;.tar.gz
/// is (<c>run.sh</c>, <c>config.sh</c>, <c>env.sh</c>, <c>bin/Runner.Listener</c>, …). Its <c>run.sh</c> execs
/// <c>bin/Runner.Listener run --jitconfig …</c> as the real one does; the listener here is a POSIX shell script
/// (base64, sed, curl, id: all in the <c>github</c> image and on a Debian host) that decodes the JIT config
/// <see cref="FakeGitHub"/> issued, reaches the fake's runner service by the address written in it, takes its job
/// (in_progress), prints lines (its JIT config among them, so that masking is tested), completes the job with the
/// conclusion the fake planned for it and exits 0. A refused credential, an unreachable service or a config that is
/// not one ends it with "An error occurred: …" and exit 1, as the real runner ends.
/// </summary>
public static class FakeActionsRunner
{
    /// <summary>The official entry point: hands its arguments to the listener.</summary>
    public const string RunScript = """
        #!/bin/sh
        # Test stand-in for actions/runner's run.sh: the listener does the work.
        exec "${0%/*}/bin/Runner.Listener" run "$@"
        """;

    /// <summary>The listener's first output line (written before it runs any other program).</summary>
    public const string StartedLine = "Runner.Listener: started";

    /// <summary>The listener: one job through the fake's runner service.</summary>
    public const string ListenerScript = """
        #!/bin/sh
        # Test stand-in for actions/runner's Runner.Listener (never shipped): one job through FakeGitHub's runner service.
        echo "Runner.Listener: started (pid $$)"
        if [ "$1" != run ] || [ "$2" != --jitconfig ] || [ -z "$3" ]; then
          echo "An error occurred: usage: Runner.Listener run --jitconfig <encoded JIT configuration>"
          exit 1
        fi
        jit=$3
        cfg=$(printf '%s' "$jit" | base64 -d 2>/dev/null)
        field() { printf '%s' "$cfg" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
        name=$(field .runner)
        server=$(field server)
        secret=$(field secret)
        if [ -z "$name" ] || [ -z "$server" ] || [ -z "$secret" ]; then
          echo "An error occurred: the JIT configuration is not valid"
          exit 1
        fi
        echo "Connecting to $server as runner $name (user $(id -un), uid $(id -u))"
        echo "debug: jitconfig=$jit"
        NL='
        '
        # post PATH BODY: sets status and body; an unreachable service ends the runner.
        post() {
          out=$(curl -sS --max-time 120 -X POST -H "Authorization: RunnerSecret $secret" -H 'Content-Type: application/json' \
            --data "$2" -w "$NL%{http_code}" "$server$1" 2>&1) || { echo "An error occurred: cannot reach $server: $out"; exit 1; }
          status=${out##*"$NL"}
          body=${out%"$NL"*}
        }
        # value NAME: a string or number member of the answer (the fake's JSON is flat).
        value() {
          v=$(printf '%s' "$body" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p")
          [ -n "$v" ] || v=$(printf '%s' "$body" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p")
          printf '%s' "$v"
        }
        post _runner/acquire '{}'
        if [ "$status" != 200 ]; then echo "An error occurred: $(value message) (HTTP $status)"; exit 1; fi
        job=$(value job_id)
        conclusion=$(value conclusion)
        echo "Running job: $(value name)"
        echo "job $job of $(value repository) in $(pwd)"
        echo "Job $(value name) completed with result: $conclusion"
        post "_runner/jobs/$job/complete" "{\"conclusion\":\"$conclusion\"}"
        if [ "$status" != 200 ]; then echo "An error occurred: $(value message) (HTTP $status)"; exit 1; fi
        exit 0
        """;

    private const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>The release's files (path, content, executable); the listener's and run.sh's as above.</summary>
    public static IReadOnlyList<(string Path, string Text, bool Executable)> Files(bool runner = true) =>
    [
        .. runner ? new[] { ("run.sh", RunScript + "\n", true) } : [],
        ("config.sh", "#!/bin/sh\necho \"config.sh: a JIT runner needs no configuration\"\n", true),
        ("env.sh", "#!/bin/sh\n", true),
        ("run-helper.sh.template", "#!/bin/sh\n", true),
        .. runner ? new[] { ("bin/Runner.Listener", ListenerScript + "\n", true) } : [],
        ("bin/Runner.Worker", "#!/bin/sh\nexit 0\n", true),
        ("bin/runner.json", "{\"version\": \"0.0.0-test\"}\n", false),
    ];

    /// <summary>Writes the release into <paramref name="directory"/> (as unpacked at /opt/actions-runner).</summary>
    public static void WriteTo(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("file modes are Unix-only");
        }

        foreach ((string path, string text, bool executable) in Files())
        {
            string file = Path.Combine(directory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, text);
            File.SetUnixFileMode(file, executable ? Executable : Readable);
        }
    }

    /// <summary>
    /// The release as a .tar.gz with the official tarball's entry names (<c>./run.sh</c> …); without
    /// <paramref name="runner"/> it lacks run.sh and bin/Runner.Listener (a tarball that is not a runner).
    /// <paramref name="fillerBytes"/> of incompressible data make a download long enough to cut. Without filler the
    /// bytes are the same on every call (fixed times, ustar headers), so an image built from it stays cached.
    /// </summary>
    public static byte[] Tarball(bool runner = true, int fillerBytes = 0)
    {
        DateTimeOffset time = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using MemoryStream output = new();
        using (GZipStream gz = new(output, CompressionLevel.Fastest, leaveOpen: true))
        using (TarWriter tar = new(gz, TarEntryFormat.Ustar))
        {
            void Write(TarEntryType type, string name, UnixFileMode mode, byte[]? data)
            {
                UstarTarEntry entry = new(type, name) { Mode = mode, ModificationTime = time };
                if (data is not null)
                {
                    entry.DataStream = new MemoryStream(data);
                }

                tar.WriteEntry(entry);
            }

            Write(TarEntryType.Directory, "./", Executable, null);
            Write(TarEntryType.Directory, "./bin/", Executable, null);
            foreach ((string path, string text, bool executable) in Files(runner))
            {
                Write(TarEntryType.RegularFile, "./" + path, executable ? Executable : Readable, Encoding.UTF8.GetBytes(text));
            }

            if (fillerBytes > 0)
            {
                Write(TarEntryType.RegularFile, "./bin/Runner.Worker.dll", Readable, System.Security.Cryptography.RandomNumberGenerator.GetBytes(fillerBytes));
            }
        }

        return output.ToArray();
    }
}
