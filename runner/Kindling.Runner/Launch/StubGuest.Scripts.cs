using System.Globalization;
using System.Text;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Launch;

/// <summary>
/// As the agent's fill_script (images/guest/PROTOCOL.md, "Secrets in a step's script"): a step whose script holds
/// secret placeholders runs from a file with each replaced by the secret's value, removed when the step ends. The
/// agent's file is on a tmpfs of its own; the stub's is in a temporary folder of this host (mode 0700/0600).
/// </summary>
internal sealed partial class StubGuest
{
    private string? _scriptsRoot;

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Step <paramref name="n"/>'s script file (named for <paramref name="shell"/> as the agent names it), or the
    /// agent's message when a placeholder is malformed or names a secret the job document does not hold.
    /// </summary>
    private (string? Script, string? Error) WriteScript(int n, string run, string shell)
    {
        string? text = SecretPlaceholders.Substitute(run, n, name => _secrets[name]?.GetValue<string>(), out string? error);
        if (text is null)
        {
            return (null, error);
        }

        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the stub guest runs steps with Linux shells");
        }

        if (_scriptsRoot is null)
        {
            // closed to others but passable (0711), as the agent's tmpfs: a job's user reaches its own step's folder
            _scriptsRoot = Directory.CreateTempSubdirectory("kindling-stub-scripts-").FullName;
            File.SetUnixFileMode(_scriptsRoot, Private | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        string dir = Path.Combine(_scriptsRoot, n.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir, Private | UnixFileMode.UserExecute);
        string path = Path.Combine(dir, shell switch { "pwsh" => "script.ps1", _ when shell.StartsWith("python", StringComparison.Ordinal) => "script.py", _ => "script.sh" });
        using (FileStream f = new(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = Private }))
        {
            f.Write(new UTF8Encoding(false).GetBytes(text));
        }

        return (path, null);
    }

    /// <summary>The step's script folder removed when the step ends, as the agent removes it.</summary>
    private static void RemoveScript(string? script)
    {
        if (script is not null)
        {
            Directory.Delete(Path.GetDirectoryName(script)!, recursive: true);
        }
    }
}
