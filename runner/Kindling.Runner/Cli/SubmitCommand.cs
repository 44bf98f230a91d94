using System.CommandLine;

namespace Kindling.Runner.Cli;

/// <summary>The flags of <c>kindling submit</c> (replay's names where replay has the flag).</summary>
public sealed record SubmitOptions
{
    public required string Workflow { get; init; }
    public string? Job { get; init; }
    public IReadOnlyList<string> Matrix { get; init; } = [];
    public IReadOnlyList<string> Inputs { get; init; } = [];
    public IReadOnlyList<string> Vars { get; init; } = [];
    public string? EventName { get; init; }
    /// <summary>--runs-on: labels to send instead of the workflow's runs-on.</summary>
    public IReadOnlyList<string> RunsOn { get; init; } = [];
    public string? Tenant { get; init; }
    /// <summary>The daemon's base URL; default: Kindling:Web:Url of the config.</summary>
    public string? Server { get; init; }
    /// <summary>The name of an environment variable, or a file, holding the bearer token.</summary>
    public string? Token { get; init; }
    public string? Config { get; init; }
    public string? Directory { get; init; }
    public bool Wait { get; init; }
}

/// <summary>The <c>kindling submit</c> verb.</summary>
public static class SubmitCommand
{
    /// <summary>The verb; <paramref name="console"/> replaces the terminal (tests).</summary>
    public static Command Build(ReplayConsole? console = null)
    {
        var workflow = new Argument<string>("WORKFLOW.yml") { Description = "the workflow file" };
        var job = new Option<string?>("--job", "-j") { Description = "the job id to submit (without it: the only job)" };
        var matrix = new Option<string[]>("--matrix") { Description = "key:value: submit only matching matrix combinations; repeatable", Arity = ArgumentArity.ZeroOrMore };
        var input = new Option<string[]>("--input") { Description = "NAME=VALUE for the inputs context (workflow_dispatch); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var variable = new Option<string[]>("--var") { Description = "NAME=VALUE for the vars context; repeatable", Arity = ArgumentArity.ZeroOrMore };
        var eventName = new Option<string?>("--event-name") { Description = "github.event_name (default push, or the workflow's first trigger)" };
        var runsOn = new Option<string[]>("--runs-on") { Description = "a runs-on label to send instead of the workflow's (e.g. when it says ubuntu-latest); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var tenant = new Option<string?>("--tenant") { Description = "the tenant to submit for (default: a tenant token's own, or the only tenant)" };
        var server = new Option<string?>("--server") { Description = "the daemon's URL (default Kindling:Web:Url of the config)" };
        var token = new Option<string?>("--token") { Description = "an environment variable or file holding the bearer token (default $KINDLING_TOKEN, else STATE/admin-token)" };
        var config = new Option<string?>("--config", "-c") { Description = "config file for the defaults of --server and the token (default /etc/kindling/kindling.json, else config/kindling.json)" };
        var directory = new Option<string?>("--directory", "-C") { Description = "the repository, for the github context (default: the current directory)" };
        var wait = new Option<bool>("--wait") { Description = "follow the job's state and log until it ends; the exit code is the job's" };
        var command = new Command("submit", "send a workflow job from its YAML to a running daemon (resolved as kindling replay does)")
        {
            workflow, job, matrix, input, variable, eventName, runsOn, tenant, server, token, config, directory, wait,
        };
        command.SetAction((parse, ct) => SubmitSession.RunAsync(new SubmitOptions
        {
            Workflow = parse.GetValue(workflow)!,
            Job = parse.GetValue(job),
            Matrix = parse.GetValue(matrix) ?? [],
            Inputs = parse.GetValue(input) ?? [],
            Vars = parse.GetValue(variable) ?? [],
            EventName = parse.GetValue(eventName),
            RunsOn = parse.GetValue(runsOn) ?? [],
            Tenant = parse.GetValue(tenant),
            Server = parse.GetValue(server),
            Token = parse.GetValue(token),
            Config = parse.GetValue(config),
            Directory = parse.GetValue(directory),
            Wait = parse.GetValue(wait),
        }, console ?? ReplayConsole.Terminal(), ct));
        return command;
    }
}
