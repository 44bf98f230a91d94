using System.Globalization;
using Kindling.Images.Tools;

namespace Kindling.Images.Rootfs;

/// <summary>
/// What the <see cref="Flavour.Github"/> flavour adds to a debootstrapped tree: the <c>runner</c> user (uid/gid
/// 1001, home /home/runner, passwordless sudo, as on GitHub-hosted runners) and the verified actions/runner release
/// unpacked at /opt/actions-runner, owned by that user. The runner's work folder (<c>_work</c>, the JIT config's
/// <c>work_folder</c>) is a link to /workspace, so a job's checkout lives on the job's overlay drive.
/// </summary>
internal static class ActionsRunnerLayer
{
    public const string User = "runner";
    public const int Uid = 1001;
    public const string InstallDirectory = "opt/actions-runner";
    public const string HomeDirectory = "home/runner";
    public const string SudoersFile = "etc/sudoers.d/runner";

    /// <summary>The sudoers rule: every command, as anyone, without a password.</summary>
    public const string SudoersRule = "runner ALL=(ALL:ALL) NOPASSWD:ALL\n";

    private const UnixFileMode Mode0440 = UnixFileMode.UserRead | UnixFileMode.GroupRead;
    private const UnixFileMode Mode0755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public static async Task AddAsync(string tree, string tarball, IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        progress?.Report(new ImageProgress("rootfs", $"adding user {User} (uid {Uid}) and the actions runner at /{InstallDirectory}", 0.6));
        await AddUserAsync(tree, ct);
        string install = Path.Combine(tree, InstallDirectory);
        Directory.CreateDirectory(install);
        await ProcessRunner.RunAsync("tar", ["-xzf", tarball, "-C", install, "--no-same-owner", "--no-same-permissions"], cancellationToken: ct);
        if (!File.Exists(Path.Combine(install, "run.sh")) || !File.Exists(Path.Combine(install, "bin", "Runner.Listener")))
        {
            throw new ImageBuildException($"{tarball}: unpacked without run.sh or bin/Runner.Listener at its top; it is not an actions/runner release");
        }

        string work = Path.Combine(install, "_work");
        if (!Path.Exists(work))
        {
            File.CreateSymbolicLink(work, "/workspace");
        }

        string owner = $"{Uid}:{Uid}";
        await ProcessRunner.RunAsync("chown", ["-R", "--no-dereference", owner, install, Path.Combine(tree, HomeDirectory)], cancellationToken: ct);
    }

    /// <summary>Adds the user to passwd, group, shadow and gshadow, its home and its sudoers rule; refuses a tree that has one.</summary>
    private static async Task AddUserAsync(string tree, CancellationToken ct)
    {
        string etc = Path.Combine(tree, "etc");
        string passwd = Path.Combine(etc, "passwd");
        string existing = File.Exists(passwd) ? await File.ReadAllTextAsync(passwd, ct) : "";
        string uid = Uid.ToString(CultureInfo.InvariantCulture);
        foreach (string line in existing.Split('\n'))
        {
            string[] f = line.Split(':');
            if (f.Length > 2 && (f[0] == User || f[2] == uid))
            {
                throw new ImageBuildException($"the base tree already has a user '{f[0]}' with uid {f[2]}: the github flavour needs user {User} with uid {uid}");
            }
        }

        await AppendAsync(passwd, $"{User}:x:{uid}:{uid}:GitHub Actions runner:/{HomeDirectory}:/bin/bash\n", ct);
        await AppendAsync(Path.Combine(etc, "group"), $"{User}:x:{uid}:\n", ct);
        // No password ('*': no password login); empty ageing fields, so sudo's account check never asks for a change.
        await AppendIfExistsAsync(Path.Combine(etc, "shadow"), $"{User}:*::0:99999:7:::\n", ct);
        await AppendIfExistsAsync(Path.Combine(etc, "gshadow"), $"{User}:!::\n", ct);
        string home = Path.Combine(tree, HomeDirectory);
        Directory.CreateDirectory(home);
        UnixMode.Set(home, Mode0755);
        string sudoers = Path.Combine(tree, SudoersFile);
        Directory.CreateDirectory(Path.GetDirectoryName(sudoers)!);
        await File.WriteAllTextAsync(sudoers, SudoersRule, ct);
        UnixMode.Set(sudoers, Mode0440);
    }

    private static async Task AppendAsync(string path, string line, CancellationToken ct)
    {
        string text = File.Exists(path) ? await File.ReadAllTextAsync(path, ct) : "";
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            text += "\n";
        }

        await File.WriteAllTextAsync(path, text + line, ct);
    }

    private static Task AppendIfExistsAsync(string path, string line, CancellationToken ct) =>
        File.Exists(path) ? AppendAsync(path, line, ct) : Task.CompletedTask;
}
