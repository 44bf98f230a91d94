using Kindling.Runner.Replay;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Cli;

/// <summary>The flags of <c>kindling replay</c> (act's names where act has the flag).</summary>
public sealed record ReplayOptions
{
    /// <summary>WORKFLOW.yml (positional).</summary>
    public string? Workflow { get; init; }
    /// <summary>-W DIR (or a file, as act accepts).</summary>
    public string? Workflows { get; init; }
    public string? Job { get; init; }
    public bool List { get; init; }
    public bool DryRun { get; init; }
    public string? EventPath { get; init; }
    public string? EventName { get; init; }
    public IReadOnlyList<string> Secrets { get; init; } = [];
    /// <summary>--secret-file; null means act's default (.secrets, when it exists).</summary>
    public string? SecretFile { get; init; }
    /// <summary>--env-file; null means act's default (.env, when it exists).</summary>
    public string? EnvFile { get; init; }
    public IReadOnlyList<string> Vars { get; init; } = [];
    /// <summary>--input NAME=VALUE: workflow_dispatch/workflow_call inputs.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];
    /// <summary>--input-file; null means act's default (.input, when it exists).</summary>
    public string? InputFile { get; init; }
    public IReadOnlyList<string> Matrix { get; init; } = [];
    /// <summary>--image; null: minimal (or, for --rerun, the job's own).</summary>
    public string? Image { get; init; }
    /// <summary>--container-image NAME=FLAVOUR: the Kindling image for jobs whose container: is NAME.</summary>
    public IReadOnlyList<string> ContainerImages { get; init; } = [];
    public bool Keep { get; init; }
    public bool Worktree { get; init; }
    public bool SkipUses { get; init; }
    /// <summary>--action-cache DIR: remote actions at DIR/owner/repo/ref.</summary>
    public string? ActionCache { get; init; }
    /// <summary>--local-repository owner/repo@ref=PATH (repeatable): that repository at that ref from PATH, before the action cache.</summary>
    public IReadOnlyList<string> LocalRepositories { get; init; } = [];
    /// <summary>--actor NAME: github.actor and $GITHUB_ACTOR; null: the event's sender, else $USER, else kindling.</summary>
    public string? Actor { get; init; }
    public long? Rerun { get; init; }
    /// <summary>-C DIR: the repository (default: the current directory).</summary>
    public string? Directory { get; init; }
    public string? State { get; init; }
    /// <summary>vmm (real microVMs, the default) or stub (a simulated guest: development and tests).</summary>
    public string Launcher { get; init; } = "vmm";
}

/// <summary>What a replay talks to: the terminal, the environment, and (tests) service overrides.</summary>
public sealed record ReplayConsole
{
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }
    public IReplayPrompter Prompter { get; init; } = new NoPrompter();
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;
    /// <summary>Services registered before the runner's own (they win): tests substitute the launcher here.</summary>
    public Action<IServiceCollection>? Services { get; init; }
    public string CurrentDirectory { get; init; } = System.Environment.CurrentDirectory;

    public static ReplayConsole Terminal() => new() { Out = Console.Out, Error = Console.Error, Prompter = new SpectrePrompter() };
}
