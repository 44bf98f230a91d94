using System.CommandLine;

namespace Kindling.Runner.Cli;

/// <summary>The <c>kindling replay</c> verb's flags (act's names where act has the flag).</summary>
public static class ReplayCommand
{
    /// <summary>The verb; <paramref name="console"/> replaces the terminal (tests).</summary>
    public static Command Build(ReplayConsole? console = null)
    {
        var workflow = new Argument<string?>("WORKFLOW.yml") { Description = "workflow file (default: every workflow in -W)", Arity = ArgumentArity.ZeroOrOne };
        var workflows = new Option<string?>("--workflows", "-W") { Description = "directory of workflows, or one file (default .github/workflows)" };
        var job = new Option<string?>("--job", "-j") { Description = "the job id to run (without it: the only job, or asked)" };
        var list = new Option<bool>("--list", "-l") { Description = "list the workflows' jobs" };
        var dryRun = new Option<bool>("--dryrun", "-n") { Description = "print the resolved steps, env and matrix without booting a VM" };
        var eventPath = new Option<string?>("--eventpath", "-e") { Description = "event payload JSON for github.event" };
        var eventName = new Option<string?>("--event-name") { Description = "github.event_name (default: from the payload, else push or the workflow's first trigger)" };
        var secret = new Option<string[]>("--secret", "-s") { Description = "NAME=VALUE, or NAME (from $NAME, else asked); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var secretFile = new Option<string?>("--secret-file") { Description = "secrets in .env format (default .secrets when it exists)" };
        var envFile = new Option<string?>("--env-file") { Description = "environment in .env format for every step (default .env when it exists)" };
        var variable = new Option<string[]>("--var") { Description = "NAME=VALUE for the vars context; repeatable", Arity = ArgumentArity.ZeroOrMore };
        var input = new Option<string[]>("--input") { Description = "NAME=VALUE for the inputs context (workflow_dispatch); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var inputFile = new Option<string?>("--input-file") { Description = "inputs in .env format (default .input when it exists)" };
        var matrix = new Option<string[]>("--matrix") { Description = "key:value: run only matching matrix combinations; repeatable", Arity = ArgumentArity.ZeroOrMore };
        var image = new Option<string?>("--image") { Description = "base image: minimal (busybox) or debian" };
        var containerImage = new Option<string[]>("--container-image")
        {
            Description = "NAME=FLAVOUR: run a job whose container: is NAME in that Kindling image (minimal or debian; default: --image); repeatable",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var keep = new Option<bool>("--keep") { Description = "keep the job's overlay disk (the workspace after the job) instead of deleting it" };
        var worktree = new Option<bool>("--worktree") { Description = "use the working tree as it is (default: a checkout of HEAD)" };
        var skipUses = new Option<bool>("--skip-uses") { Description = "run a job whose uses: steps are not supported yet, reporting them as skipped" };
        var actionCache = new Option<string?>("--action-cache") { Description = "directory of actions as owner/repo/ref (act's offline layout) for uses: owner/repo@ref" };
        var localRepository = new Option<string[]>("--local-repository") { Description = "owner/repo@ref=PATH: that repository at that ref from the directory PATH (before --action-cache); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var actor = new Option<string?>("--actor", "-a") { Description = "github.actor and $GITHUB_ACTOR (default: the event's sender, else $USER, else kindling)" };
        var rerun = new Option<long?>("--rerun") { Description = "replay a recorded job again (same spec and workspace, fresh VM)" };
        var directory = new Option<string?>("--directory", "-C") { Description = "the repository (default: the current directory)" };
        var state = new Option<string?>("--state") { Description = "state directory (default $KINDLING_STATE or ~/.local/share/kindling)" };
        var launcher = new Option<string>("--launcher") { Description = "vmm (microVMs) or stub (simulated guest, for development)", DefaultValueFactory = _ => "vmm", Hidden = true };
        launcher.AcceptOnlyFromAmong("vmm", "stub");
        var command = new Command("replay", "run a workflow job from its YAML in a microVM, as CI would (like act)")
        {
            workflow, workflows, job, list, dryRun, eventPath, eventName, secret, secretFile, envFile, variable, input, inputFile, matrix, image, containerImage, keep, worktree,
            skipUses, actionCache, localRepository, actor, rerun, directory, state, launcher,
        };
        command.SetAction((parse, ct) => ReplaySession.RunAsync(new ReplayOptions
        {
            Workflow = parse.GetValue(workflow),
            Workflows = parse.GetValue(workflows),
            Job = parse.GetValue(job),
            List = parse.GetValue(list),
            DryRun = parse.GetValue(dryRun),
            EventPath = parse.GetValue(eventPath),
            EventName = parse.GetValue(eventName),
            Secrets = parse.GetValue(secret) ?? [],
            SecretFile = parse.GetValue(secretFile),
            EnvFile = parse.GetValue(envFile),
            Vars = parse.GetValue(variable) ?? [],
            Inputs = parse.GetValue(input) ?? [],
            InputFile = parse.GetValue(inputFile),
            Matrix = parse.GetValue(matrix) ?? [],
            Image = parse.GetValue(image),
            ContainerImages = parse.GetValue(containerImage) ?? [],
            Keep = parse.GetValue(keep),
            Worktree = parse.GetValue(worktree),
            SkipUses = parse.GetValue(skipUses),
            ActionCache = parse.GetValue(actionCache),
            LocalRepositories = parse.GetValue(localRepository) ?? [],
            Actor = parse.GetValue(actor),
            Rerun = parse.GetValue(rerun),
            Directory = parse.GetValue(directory),
            State = parse.GetValue(state),
            Launcher = parse.GetValue(launcher) ?? "vmm",
        }, console ?? ReplayConsole.Terminal(), ct));
        return command;
    }
}
