using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>uses:</c> steps replay can run: a composite action (local <c>./path</c>, or <c>owner/repo@ref</c> from a
/// <c>--local-repository owner/repo@ref=PATH</c> or <c>--action-cache DIR</c>, found at <c>DIR/owner/repo/ref</c> as act's
/// offline mode keeps them: <see cref="RemoteSources"/>) becomes its steps,
/// with the <c>inputs</c> context from <c>with:</c> and the defaults and <c>github.action_path</c>; a JavaScript action
/// becomes <c>node main</c> with <c>INPUT_*</c> in its environment, where the image has node (debian). Docker actions
/// are not supported: the steps run in the VM's own userland, with no container runtime.
/// </summary>
internal static partial class ActionSteps
{
    public const int MaxDepth = 10;
    private const string CachedActionsDirectory = ".kindling/actions";

    /// <summary>The planned steps of an action step, or null with <paramref name="why"/> when replay cannot run it.</summary>
    /// <param name="written">Local actions written at run time, read back from the guest: their directory (<see cref="RuntimeActions.Directory"/>) → action.yml's text.</param>
    public static IReadOnlyList<PlannedStep>? Plan(Workflow wf, WorkflowJob job, WorkflowStep s, ExprContext ctx, StepConditions outer, string name,
        GuestSecretNames secretNames, ReplayInputs inputs, List<string> warnings, int depth, IReadOnlyDictionary<string, string>? written, out string why)
    {
        string uses = s.Uses!;
        if (uses.StartsWith("docker://", StringComparison.Ordinal))
        {
            return Docker(out why);
        }

        if (Locate(uses, inputs, written) is not { } at)
        {
            if (uses.StartsWith("./", StringComparison.Ordinal))
            {
                // GitHub loads a local action when its step runs: a missing one fails that step (and only if it runs),
                // one that an earlier step writes is read from the guest when the step comes.
                why = "";
                return RuntimeActions.Writer(job, s) switch
                {
                    null => [Missing(s, outer, name, uses)],
                    { } w when RuntimeActions.WritesDocker(w) => Docker(out why, $"step {w.Number} writes a Docker action for {uses} at run time: "),
                    { } w => [RuntimeActions.LoadStep(s, outer, name, uses, w)],
                };
            }

            why = NotFound(uses, inputs.Remotes);
            return null;
        }

        if (depth >= MaxDepth)
        {
            throw new ReplayException($"{ctx.Where}: {uses}: composite actions nest deeper than {MaxDepth} (does an action use itself?)");
        }

        ActionManifest action;
        try
        {
            string display = uses.TrimEnd('/') + "/" + Path.GetFileName(at.Manifest);
            action = at.Text is { } text ? WorkflowParser.ParseActionText(text, display) : WorkflowParser.ParseAction(at.Manifest, display);
        }
        catch (WorkflowException e)
        {
            // GitHub reads an action when its step runs: an invalid action.yml fails that step, not the workflow.
            why = "";
            return [Failing(s, outer, name, uses, e.Message, $"{uses}: its action.yml is invalid: the step fails if it runs, as on GitHub")];
        }

        ExprValue actionInputs = Inputs(action, s, ctx);
        switch (action.Using)
        {
            case "composite":
                why = "";
                return CompositeSteps.Plan(wf, job, s, ctx, outer, action, actionInputs, at, secretNames, inputs, warnings, depth, written);
            case var node when node.StartsWith("node", StringComparison.Ordinal):
                if (inputs.Image != ReplayDefaults.DebianImage)
                {
                    why = $"a JavaScript action ({node}) needs node, which the {inputs.Image} image lacks: pass --image {ReplayDefaults.DebianImage}";
                    return null;
                }

                why = "";
                // the workflow step's own action: GitHub reads a remote one (and the actions inside it) before the job's first step
                bool rootRemote = job.Steps.FirstOrDefault(w => w.Number == s.Number)?.Uses is { } root && !root.StartsWith("./", StringComparison.Ordinal);
                return JavaScriptStages(s, ctx, outer, name, action, actionInputs, at, rootRemote);
            case "docker":
                return Docker(out why);
            default:
                why = $"its runs.using '{action.Using}' is not composite, node or docker";
                return null;
        }
    }

    private static IReadOnlyList<PlannedStep>? Docker(out string why, string prefix = "")
    {
        why = prefix + "Docker actions are not supported (steps run in the microVM's own userland, with no container runtime)";
        return null;
    }

    /// <summary>A local action that is not in the workspace: the step fails when it runs, with GitHub's message.</summary>
    private static PlannedStep Missing(WorkflowStep s, StepConditions outer, string name, string uses) =>
        Failing(s, outer, name, uses, MissingMessage(uses), $"{uses} has no action.yml in the workspace: the step fails if it runs, as on GitHub");

    /// <summary>GitHub's message for a local action without a manifest.</summary>
    internal static string MissingMessage(string uses)
    {
        string dir = $"{ReplayDefaults.GuestWorkspace}/{uses[2..].TrimEnd('/')}".TrimEnd('/');
        return $"Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '{dir}'. Did you forget to run actions/checkout before running your local action?";
    }

    /// <summary>A step that prints <paramref name="message"/> and fails, where it runs.</summary>
    private static PlannedStep Failing(WorkflowStep s, StepConditions outer, string name, string uses, string message, string note)
    {
        return new PlannedStep
        {
            Number = s.Number, Name = name, Kind = PlannedStepKind.Run, Uses = uses, IfSource = s.If,
            Notes = [note],
            Spec = new StepSpec { Name = name, Run = $"echo '{message.Replace("'", "'\\''", StringComparison.Ordinal)}' >&2\nexit 1", Shell = ShellNames.Sh, If = outer.AgentCondition },
        };
    }

    /// <summary>github.action_repository and github.action_ref: owner/repo and the ref of a remote action, empty for a local one.</summary>
    internal static (string Repository, string Ref) RefOf(string uses)
    {
        int at = uses.LastIndexOf('@');
        if (uses.StartsWith("./", StringComparison.Ordinal) || at <= 0)
        {
            return ("", "");
        }

        string[] parts = uses[..at].Split('/');
        return (parts.Length >= 2 ? $"{parts[0]}/{parts[1]}" : "", uses[(at + 1)..]);
    }

    /// <summary>
    /// Where an action is: its action.yml on this host (or its text, read back from the guest), its directory in the
    /// guest, and (cached actions) the files to stage.
    /// </summary>
    internal sealed record Location(string Manifest, string HostDirectory, string GuestDirectory, string? StageAs, string? Text = null);

    private static Location? Locate(string uses, ReplayInputs inputs, IReadOnlyDictionary<string, string>? written)
    {
        if (uses.StartsWith("./", StringComparison.Ordinal))
        {
            string rel = uses[2..].TrimEnd('/');
            if (written?.GetValueOrDefault(RuntimeActions.Directory(uses)) is { } text)
            {
                string guest = $"{ReplayDefaults.GuestWorkspace}/{RuntimeActions.Directory(uses)}".TrimEnd('/');
                return new Location("action.yml", "", guest, null, text);
            }

            string host = Path.GetFullPath(Path.Combine(inputs.Source.Root, rel));
            return Manifest(host) is { } m ? new Location(m, host, $"{ReplayDefaults.GuestWorkspace}/{rel}", null) : null;
        }

        if (Remote(uses) is not { } r || inputs.Remotes.Find(r.Repository, r.Ref, out _) is not { } root)
        {
            return null;
        }

        string dir = r.Path.Length == 0 ? root : Path.Combine(root, r.Path);
        string relative = CacheRelative(uses)!;
        return Manifest(dir) is { } found
            ? new Location(found, dir, $"{ReplayDefaults.GuestWorkspace}/{CachedActionsDirectory}/{relative}", $"{CachedActionsDirectory}/{relative}")
            : null;
    }

    /// <summary>Why a remote action is not found: where it was looked for, or how to give it.</summary>
    private static string NotFound(string uses, RemoteSources remotes)
    {
        if (Remote(uses) is not { } r)
        {
            return $"'{uses}' is not owner/repo[/path]@ref";
        }

        if (remotes.LocalRepositories.TryGetValue($"{r.Repository.ToLowerInvariant()}@{r.Ref}", out string? local))
        {
            return $"--local-repository {r.Repository}@{r.Ref} ({local}) has no {(r.Path.Length == 0 ? "" : r.Path + "/")}action.yml";
        }

        return remotes.ActionCache is { } cache
            ? $"not in the action cache {cache} (expected {Path.Combine(cache, CacheRelative(uses)!)})"
            : $"remote actions run from a local cache: pass --action-cache DIR holding DIR/owner/repo/ref, or --local-repository {r.Repository}@{r.Ref}=PATH";
    }

    /// <summary>owner/repo, the ref and the path inside of <c>owner/repo[/path]@ref</c>, or null when it is not that shape.</summary>
    private static (string Repository, string Ref, string Path)? Remote(string uses)
    {
        if (CacheRelative(uses) is null)
        {
            return null;
        }

        int at = uses.LastIndexOf('@');
        string[] parts = uses[..at].Split('/');
        return ($"{parts[0]}/{parts[1]}", uses[(at + 1)..], string.Join('/', parts[2..]));
    }

    /// <summary><c>owner/repo[/path]@ref</c> → <c>owner/repo/ref[/path]</c>, or null when it is not that shape.</summary>
    private static string? CacheRelative(string uses)
    {
        int at = uses.LastIndexOf('@');
        if (at <= 0)
        {
            return null;
        }

        string[] parts = uses[..at].Split('/');
        string @ref = uses[(at + 1)..];
        if (parts.Length < 2 || @ref.Length == 0 || parts.Concat([@ref]).Any(p => p.Length == 0 || p is "." or ".."))
        {
            return null;
        }

        return string.Join('/', [parts[0], parts[1], @ref, .. parts[2..]]);
    }

    private static string? Manifest(string dir) =>
        new[] { "action.yml", "action.yaml" }.Select(f => Path.Combine(dir, f)).FirstOrDefault(File.Exists);

    /// <summary>
    /// The action's inputs context: with: values (evaluated in the step's context), else declared defaults, which may
    /// read the inputs given (<c>default: ${{ inputs.some }}</c>: the action's own inputs context, as on GitHub).
    /// </summary>
    private static ExprValue Inputs(ActionManifest action, WorkflowStep s, ExprContext ctx)
    {
        var given = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase);
        foreach ((string k, string v) in s.With)
        {
            given[k] = Template.Evaluate(v, ctx with { Where = $"{ctx.Where}: with.{k}" });
        }

        ExprContext defaults = ctx with
        {
            Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["inputs"] = ExprValue.Object(given) },
        };
        var values = new List<KeyValuePair<string, ExprValue>>();
        foreach ((string name, string? def) in action.Inputs)
        {
            values.Add(KeyValuePair.Create(name, given.GetValueOrDefault(name)
                ?? (def is null ? ExprValue.String("") : Template.Evaluate(def, defaults with { Where = $"{ctx.Where}: inputs.{name}.default" }))));
        }

        values.AddRange(s.With.Where(w => !action.Inputs.Any(i => string.Equals(i.Key, w.Key, StringComparison.OrdinalIgnoreCase)))
            .Select(w => KeyValuePair.Create(w.Key, given[w.Key])));
        return ExprValue.Object(values);
    }

    /// <summary>
    /// A JavaScript action's main step and, as GitHub runs them, its <c>pre:</c> (a job's own step using a remote
    /// action: before all the job's steps, under <c>pre-if</c>) and <c>post:</c> (after all of them, in reverse order,
    /// under <c>post-if</c>, only where the main step ran: it leaves a marker the post step looks for).
    /// </summary>
    private static IReadOnlyList<PlannedStep> JavaScriptStages(WorkflowStep s, ExprContext ctx, StepConditions outer, string name, ActionManifest action,
        ExprValue actionInputs, Location at, bool rootRemote)
    {
        PlannedStep main = JavaScript(s, ctx, outer, name, action, actionInputs, at);
        if (action.Pre.Length == 0 && action.Post.Length == 0)
        {
            return [main];
        }

        string marker = $"{RanMarkers}/{MarkerKey(ctx.Where)}";
        // pre-if and post-if read the action's own inputs (${{ inputs.pre == 'true' }})
        ExprContext actionCtx = ctx with { Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["inputs"] = actionInputs } };
        string Node(string file) => $"{InputsOutsideShellNames(actionInputs)}node '{at.GuestDirectory}/{file}'";
        List<PlannedStep> steps = [];
        List<string> notes = [];
        if (action.Pre.Length > 0 && (at.StageAs is null || !rootRemote))
        {
            // GitHub reads a job's remote actions, and the actions inside remote composites, before its first step: a local
            // action (not checked out yet), or one inside a local composite, has no pre step (actions/runner ActionManager:
            // pre steps for remote actions only, a composite's embedded ones as its own pre step).
            notes.Add($"its pre: ({action.Pre}) does not run: GitHub runs pre: only for remote actions of a job's own steps or inside a remote composite");
        }
        else if (action.Pre.Length > 0)
        {
            StepConditions preIf = StepConditions.Evaluate(action.PreIf.Length > 0 ? action.PreIf : StepConditions.Always, actionCtx with { Where = $"{ctx.Where}: runs.pre-if" });
            steps.Add(main with
            {
                Name = "Pre " + name, Stage = PlannedStepStage.Pre, PartOfAction = true, IfSource = action.PreIf.Length > 0 ? action.PreIf : null,
                Spec = main.Spec with { Name = "Pre " + name, Run = "exec " + Node(action.Pre), If = preIf.AgentCondition },
            });
        }

        if (action.Post.Length == 0)
        {
            steps.Add(main with { Notes = [.. main.Notes, .. notes] });
            return steps;
        }

        steps.Add(main with
        {
            Notes = [.. main.Notes, .. notes],
            Spec = main.Spec with { Run = $"mkdir -p {RanMarkers} && : > {marker} && {main.Spec.Run}" },
        });
        StepConditions postIf = StepConditions.Evaluate(action.PostIf.Length > 0 ? action.PostIf : StepConditions.Always, actionCtx with { Where = $"{ctx.Where}: runs.post-if" });
        string post = Node(action.Post);
        steps.Add(main with
        {
            Name = "Post " + name, Stage = PlannedStepStage.Post, PartOfAction = true, IfSource = action.PostIf.Length > 0 ? action.PostIf : null,
            StageAction = null,
            Spec = main.Spec with
            {
                Name = "Post " + name, If = postIf.AgentCondition,
                Run = $"if [ -e {marker} ]; then exec {post}; fi\necho 'kindling: {name.Replace("'", "", StringComparison.Ordinal)} did not run: no post step'",
            },
        });
        return steps;
    }

    /// <summary>Where main steps of actions with a post: leave their marker in the guest.</summary>
    private const string RanMarkers = "/tmp/kindling-actions-ran";

    /// <summary>The same for a step's plan before boot and at step time: its place (job, combination, step, action step).</summary>
    private static string MarkerKey(string where) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(where)))[..16];

    /// <summary>GitHub's variable for an action input: INPUT_ and the name in upper case, spaces as '_' (a '-' stays).</summary>
    private static string InputName(string input) => "INPUT_" + input.Replace(' ', '_').ToUpperInvariant();

    /// <summary>
    /// <c>env 'INPUT_WHO-TO-GREET=value' </c> for the inputs whose variable is not a shell name (a '-' in it, as
    /// <c>who-to-greet</c> gives): the guest agent sets only shell names in a step's environment, so these reach node
    /// through env(1), as GitHub's runner sets them; empty when there are none.
    /// </summary>
    private static string InputsOutsideShellNames(ExprValue actionInputs)
    {
        string[] pairs = [.. actionInputs.Members.Where(kv => !ShellName().IsMatch(InputName(kv.Key)))
            .Select(kv => "'" + $"{InputName(kv.Key)}={kv.Value}".Replace("'", "'\\''", StringComparison.Ordinal) + "'")];
        return pairs.Length == 0 ? "" : $"env {string.Join(' ', pairs)} ";
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial System.Text.RegularExpressions.Regex ShellName();

    private static PlannedStep JavaScript(WorkflowStep s, ExprContext ctx, StepConditions outer, string name, ActionManifest action, ExprValue actionInputs, Location at)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string k, ExprValue v) in actionInputs.Members)
        {
            if (v.IsSecret)
            {
                throw new ReplayException($"{ctx.Where}: with.{k}: a secret as a JavaScript action's input is not supported by replay; pass it in env: instead");
            }

            if (ShellName().IsMatch(InputName(k)))
            {
                env[InputName(k)] = v.ToString();
            }
        }

        foreach ((string k, string v) in s.Env)
        {
            env[k] = ReplayPlanner.Text(Template.Evaluate(v, ctx with { Where = $"{ctx.Where}: env.{k}" }));
        }

        env["GITHUB_ACTION_PATH"] = at.GuestDirectory;
        (env["GITHUB_ACTION_REPOSITORY"], env["GITHUB_ACTION_REF"]) = RefOf(s.Uses!);
        return new PlannedStep
        {
            Number = s.Number, Name = name, Kind = PlannedStepKind.Run, Uses = s.Uses, IfSource = s.If,
            StageAction = at.StageAs is { } stage ? (at.HostDirectory, stage) : null,
            Spec = new StepSpec
            {
                Name = name, Run = $"exec {InputsOutsideShellNames(actionInputs)}node '{at.GuestDirectory}/{action.Main}'", Shell = ShellNames.Sh, If = outer.AgentCondition, Env = env,
            },
        };
    }
}
