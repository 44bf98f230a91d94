namespace Kindling.Runner.Forges.GitHub;

/// <summary>Where self-hosted runners are registered: one repository, or a whole organization.</summary>
public sealed record RunnerScope
{
    private RunnerScope(string path) => Path = path;

    /// <summary>The API path prefix: <c>repos/OWNER/REPO</c> or <c>orgs/ORG</c>.</summary>
    public string Path { get; }

    public static RunnerScope Repository(string ownerSlashRepo)
    {
        string[] parts = ownerSlashRepo.Split('/');
        if (parts.Length != 2)
        {
            throw new ArgumentException($"'{ownerSlashRepo}' is not owner/repo", nameof(ownerSlashRepo));
        }

        return new RunnerScope($"repos/{Uri.EscapeDataString(parts[0])}/{Uri.EscapeDataString(parts[1])}");
    }

    public static RunnerScope Organization(string org) => new($"orgs/{Uri.EscapeDataString(org)}");

    public override string ToString() => Path;
}
