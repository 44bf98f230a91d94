using System.Formats.Tar;
using System.Text.RegularExpressions;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Replay;

/// <summary>
/// The job's source: what git says about the directory (for the github context), and the workspace snapshot: a
/// checkout of HEAD (<c>git archive</c>: committed files only, the default) or the working tree as it is
/// (<c>--worktree</c>: tracked and untracked files git does not ignore; every file outside git).
/// </summary>
public static partial class GitSource
{
    public static async Task<SourceInfo> ProbeAsync(string directory, CancellationToken ct)
    {
        string dir = Path.GetFullPath(directory);
        string? top;
        try
        {
            top = await GitAsync(dir, ct, "rev-parse", "--show-toplevel");
        }
        catch (ReplayException)
        {
            top = null; // no git here: a plain directory
        }

        if (top is null)
        {
            return new SourceInfo { Root = dir, IsGit = false, Repository = "local/" + Path.GetFileName(dir), Actor = Actor() };
        }

        string root = top.Trim();
        string? sha = (await GitAsync(root, ct, "rev-parse", "HEAD"))?.Trim();
        string? symbolic = (await GitAsync(root, ct, "symbolic-ref", "-q", "HEAD"))?.Trim();
        string? origin = (await GitAsync(root, ct, "config", "--get", "remote.origin.url"))?.Trim();
        return new SourceInfo
        {
            Root = root,
            IsGit = sha is not null,
            Sha = sha ?? new SourceInfo { Root = root }.Sha,
            Ref = symbolic is { Length: > 0 } ? symbolic : sha ?? "refs/heads/main",
            Repository = RepositoryFromRemote(origin) ?? "local/" + Path.GetFileName(root),
            Actor = Actor(),
        };
    }

    /// <summary>owner/name of a GitHub-style remote URL (https or scp-like ssh), or null.</summary>
    public static string? RepositoryFromRemote(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return null;
        }

        Match m = RemotePattern().Match(url.Trim());
        return m.Success ? $"{m.Groups["owner"].Value}/{m.Groups["name"].Value}" : null;
    }

    /// <summary>Writes the workspace into <paramref name="target"/> (which must not exist yet).</summary>
    public static async Task SnapshotAsync(SourceInfo source, bool worktree, string target, CancellationToken ct)
    {
        Directory.CreateDirectory(target);
        if (!worktree)
        {
            if (!source.IsGit)
            {
                throw new ReplayException($"{source.Root} is not a git repository with a commit: pass --worktree to use the directory as it is");
            }

            await ArchiveHeadAsync(source.Root, target, ct);
            return;
        }

        if (!source.IsGit)
        {
            WorkspaceTree.Copy(source.Root, target, ".git");
            return;
        }

        foreach (string rel in (await LsFilesAsync(source.Root, worktree: true, ct)).Distinct(StringComparer.Ordinal))
        {
            WorkspaceTree.CopyRelative(source.Root, rel, target);
        }
    }

    /// <summary>
    /// The files the workspace will hold, for hashFiles(): with git, what <c>git ls-files</c> lists (tracked ones
    /// for a HEAD snapshot, plus untracked unignored ones with --worktree); otherwise the directory without .git.
    /// Contents are read from the working tree, so uncommitted edits count even for a HEAD snapshot.
    /// </summary>
    public static IEnumerable<string> WorkspaceFiles(SourceInfo source, bool worktree)
    {
        if (!source.IsGit)
        {
            return WorkspaceHash.DirectoryFiles(source.Root);
        }

        return LsFilesAsync(source.Root, worktree, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary><c>git ls-files</c>: the tracked files, plus the untracked unignored ones with <paramref name="worktree"/>.</summary>
    private static async Task<string[]> LsFilesAsync(string root, bool worktree, CancellationToken ct)
    {
        string[] args = worktree ? ["ls-files", "-z", "--cached", "--others", "--exclude-standard"] : ["ls-files", "-z", "--cached"];
        string list = await GitAsync(root, ct, args) ?? throw new ReplayException($"git ls-files failed in {root}");
        return list.Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    private static Task ArchiveHeadAsync(string root, string target, CancellationToken ct) => ArchiveAsync(root, "HEAD", target, ct);

    /// <summary>The files of <paramref name="treeish"/> (a commit) into <paramref name="target"/> (created), as <c>git archive</c> gives them.</summary>
    public static async Task ArchiveAsync(string root, string treeish, string target, CancellationToken ct)
    {
        Directory.CreateDirectory(target);
        ProcessResult git = await RunGitAsync(
            ["-C", root, "archive", "--format=tar", treeish],
            new ProcessOptions { ReadOutput = (tar, c) => TarFile.ExtractToDirectoryAsync(tar, target, overwriteFiles: false, c) },
            ct);
        if (git.ExitCode != 0)
        {
            throw new ReplayException($"git archive {treeish} failed in {root}: {git.StandardError.Trim()}");
        }
    }

    /// <summary>
    /// The commit <paramref name="ref"/> names in the repository (a branch, a tag, a commit, a full refs/… name, or a
    /// branch only origin has), or null when git knows none.
    /// </summary>
    public static string? ResolveCommit(SourceInfo source, string @ref)
    {
        if (!source.IsGit || @ref.Length == 0 || @ref.StartsWith('-') || @ref.Any(char.IsControl))
        {
            return null;
        }

        foreach (string candidate in (string[])[@ref, "refs/remotes/origin/" + @ref])
        {
            string? sha = GitAsync(source.Root, CancellationToken.None, "rev-parse", "--verify", "--quiet", "--end-of-options", candidate + "^{commit}")
                .GetAwaiter().GetResult()?.Trim();
            if (sha is { Length: > 0 })
            {
                return sha;
            }
        }

        return null;
    }

    private static async Task<string?> GitAsync(string dir, CancellationToken ct, params string[] args)
    {
        ProcessResult git = await RunGitAsync(["-C", dir, .. args], null, ct);
        return git.ExitCode == 0 ? git.StandardOutput : null;
    }

    private static async Task<ProcessResult> RunGitAsync(string[] args, ProcessOptions? options, CancellationToken ct)
    {
        try
        {
            return await ProcessRunner.RunAsync("git", args, options, ct);
        }
        catch (ProcessStartException e)
        {
            throw new ReplayException($"cannot run git ({e.Reason}); install git, or pass --worktree for a directory outside git", e);
        }
    }

    private static string Actor() => Environment.GetEnvironmentVariable("USER") is { Length: > 0 } u ? u : "kindling";

    [GeneratedRegex(@"[:/](?<owner>[^/:]+)/(?<name>[^/]+?)(\.git)?/?$")]
    private static partial Regex RemotePattern();
}
