using System.Globalization;
using System.Text.RegularExpressions;
using Kindling.Runner.Replay.Expressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kindling.Runner.Replay.Workflows;

/// <summary>
/// Reads GitHub Actions workflow YAML (YamlDotNet's representation model, so every error has a line and column).
/// Keys GitHub does not know are errors, as on GitHub (a typo like <c>step:</c> would otherwise silently drop work);
/// features replay does not run (reusable workflows, containers, services) are read and reported by the planner.
/// </summary>
public static partial class WorkflowParser
{
    private static readonly string[] WorkflowKeys = ["name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"];
    private static readonly string[] JobKeys =
    [
        "name", "permissions", "needs", "if", "runs-on", "environment", "concurrency", "outputs", "env", "defaults", "steps",
        "timeout-minutes", "strategy", "continue-on-error", "container", "services", "uses", "with", "secrets",
    ];
    private static readonly string[] StepKeys = ["id", "if", "name", "uses", "run", "working-directory", "shell", "with", "env", "continue-on-error", "timeout-minutes"];

    /// <summary>Reads a workflow file; <paramref name="display"/> is how messages name it (default: the path).</summary>
    public static Workflow ParseFile(string path, string? display = null)
    {
        display ??= path;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WorkflowException(display, null, $"cannot read the workflow: {e.Message}");
        }

        return Parse(text, display) with { FullPath = Path.GetFullPath(path) };
    }

    public static Workflow Parse(string yaml, string file)
    {
        YamlMappingNode root = Load(yaml, file);
        var p = new Reader(file);
        p.CheckKeys(root, WorkflowKeys, "the workflow");
        YamlNode? jobsNode = p.Get(root, "jobs");
        if (jobsNode is null)
        {
            throw new WorkflowException(file, Mark(root), "the workflow has no jobs: (add a jobs: mapping with at least one job)");
        }

        YamlMappingNode jobs = p.Mapping(jobsNode, "jobs");
        if (jobs.Children.Count == 0)
        {
            throw new WorkflowException(file, Mark(jobs), "jobs: is empty; add at least one job");
        }

        YamlNode? on = p.Get(root, "on");
        if (on is null)
        {
            throw new WorkflowException(file, Mark(root), "the workflow has no on: (GitHub runs a workflow only for the events its on: names; add one, e.g. on: push)");
        }

        WorkflowJob[] parsed = [.. jobs.Children.Select(kv => p.Job(kv.Key, kv.Value))];
        p.CheckNeeds(jobs, parsed);
        return new Workflow
        {
            File = file,
            Name = p.Get(root, "name") is { } n ? p.Scalar(n, "name") : Path.GetFileName(file),
            Events = p.Events(on),
            InputDefaults = p.InputDefaults(on),
            InputTypes = p.InputTypes(on),
            CallInputs = p.CallInputs(on),
            CallOutputs = on is YamlMappingNode onMap && p.Get(onMap, "workflow_call") is YamlMappingNode call && p.Get(call, "outputs") is YamlMappingNode outs
                ? [.. outs.Children.Select(kv => KeyValuePair.Create(p.Scalar(kv.Key, "on.workflow_call.outputs"),
                    kv.Value is YamlMappingNode o && p.Get(o, "value") is { } v ? p.Scalar(v, "on.workflow_call.outputs.value") : ""))]
                : [],
            Env = p.StringMap(p.Get(root, "env"), "env"),
            Defaults = p.Defaults(p.Get(root, "defaults"), "defaults"),
            Jobs = parsed,
        };
    }

    /// <summary>
    /// An action's metadata (action.yml): inputs with their defaults, outputs, and <c>runs</c> (using; composite
    /// steps, read as a job's steps are; main/pre/post of a JavaScript action; image of a Docker action).
    /// </summary>
    public static ActionManifest ParseAction(string path, string display)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WorkflowException(display, null, $"cannot read the action: {e.Message}");
        }

        return ParseActionText(text, display);
    }

    /// <summary>An action's metadata from its text (a local action an earlier step wrote, read back from the guest).</summary>
    public static ActionManifest ParseActionText(string text, string display)
    {
        YamlMappingNode root = Load(text, display);
        var p = new Reader(display);
        string Str(YamlMappingNode m, string key, string where) => p.Get(m, key) is { } v ? p.Scalar(v, where) : "";
        List<KeyValuePair<string, string?>> inputs = [];
        if (p.Get(root, "inputs") is YamlMappingNode ins)
        {
            foreach ((YamlNode k, YamlNode v) in ins.Children)
            {
                string name = p.Scalar(k, "inputs");
                inputs.Add(KeyValuePair.Create(name, v is YamlMappingNode d && p.Get(d, "default") is YamlScalarNode def ? def.Value ?? "" : (string?)null));
            }
        }

        List<KeyValuePair<string, string>> outputs = [];
        if (p.Get(root, "outputs") is YamlMappingNode outs)
        {
            foreach ((YamlNode k, YamlNode v) in outs.Children)
            {
                outputs.Add(KeyValuePair.Create(p.Scalar(k, "outputs"), v is YamlMappingNode o && p.Get(o, "value") is YamlScalarNode val ? val.Value ?? "" : ""));
            }
        }

        if (p.Get(root, "runs") is not YamlMappingNode runs)
        {
            throw new WorkflowException(display, Mark(root), "the action has no runs: (an action.yml needs runs.using)");
        }

        string mark = "runs";
        if (p.Get(runs, "using") is YamlScalarNode { Value: "composite" } && p.Get(runs, "steps") is null)
        {
            throw new WorkflowException(display, Mark(runs), "a composite action needs runs.steps (a list of run: or uses: steps)");
        }

        return new ActionManifest
        {
            Name = Str(root, "name", "name"),
            Inputs = inputs,
            Outputs = outputs,
            Using = Str(runs, "using", mark + ".using"),
            Main = Str(runs, "main", mark + ".main"),
            Pre = Str(runs, "pre", mark + ".pre"),
            Post = Str(runs, "post", mark + ".post"),
            PreIf = Str(runs, "pre-if", mark + ".pre-if"),
            PostIf = Str(runs, "post-if", mark + ".post-if"),
            Image = Str(runs, "image", mark + ".image"),
            Steps = p.Get(runs, "steps") is { } steps ? p.Steps(steps, "jobs.composite") : [],
        };
    }

    private static YamlMappingNode Load(string yaml, string file)
    {
        // A first pass with the event parser: its exceptions carry positions; the last good event locates the rest.
        var parser = new Parser(new StringReader(yaml));
        YamlDotNet.Core.Mark last = YamlDotNet.Core.Mark.Empty;
        try
        {
            while (parser.MoveNext())
            {
                last = parser.Current!.End;
            }
        }
        catch (YamlException e)
        {
            (int line, int column) = ((int)e.Start.Line, (int)e.Start.Column);
            if (e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) && FirstTabIndent(yaml) is { } tabLine)
            {
                (line, column) = (tabLine, 1);
            }

            throw new WorkflowException(file, new SourceMark(line, column), $"invalid YAML: {Clean(e.Message)}");
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way on some unterminated flow collections.
            throw new WorkflowException(file, new SourceMark((int)last.Line, (int)last.Column),
                "invalid YAML: the parser stopped after this point (an unclosed [ or { ?)");
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new WorkflowException(file, new SourceMark((int)e.Start.Line, (int)e.Start.Column), $"invalid YAML: {Clean(e.Message)}");
        }

        if (stream.Documents.Count == 0)
        {
            throw new WorkflowException(file, null, "the file is empty; a workflow is a mapping with on: and jobs:");
        }

        if (stream.Documents.Count > 1)
        {
            throw new WorkflowException(file, Mark(stream.Documents[1].RootNode), "the file holds several YAML documents (---); a workflow is one");
        }

        return stream.Documents[0].RootNode as YamlMappingNode
            ?? throw new WorkflowException(file, Mark(stream.Documents[0].RootNode), "a workflow must be a mapping with on: and jobs:");
    }

    private static int? FirstTabIndent(string yaml)
    {
        string[] lines = yaml.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart(' ').StartsWith('\t'))
            {
                return i + 1;
            }
        }

        return null;
    }

    private static string Clean(string message) => message.TrimEnd('.') is { Length: > 0 } m ? char.ToLowerInvariant(m[0]) + m[1..] : message;

    internal static SourceMark Mark(YamlNode n) => new((int)n.Start.Line, (int)n.Start.Column);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex JobIdPattern();

    /// <summary>Per-file reading helpers (they know the file for messages).</summary>
    private sealed class Reader(string file)
    {
        public WorkflowException Error(YamlNode at, string message) => new(file, Mark(at), message);

        public YamlNode? Get(YamlMappingNode m, string key) =>
            m.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode s && s.Value == key).Value;

        public void CheckKeys(YamlMappingNode m, string[] known, string where)
        {
            foreach (YamlNode k in m.Children.Keys)
            {
                string name = k is YamlScalarNode s ? s.Value ?? "" : "";
                if (!known.Contains(name, StringComparer.Ordinal))
                {
                    string? near = known.FirstOrDefault(c => Similar(c, name));
                    throw Error(k, $"unknown key '{name}' in {where}{(near is null ? "" : $" (did you mean '{near}'?)")}; known keys: {string.Join(", ", known)}");
                }
            }
        }

        public YamlMappingNode Mapping(YamlNode n, string where) =>
            n as YamlMappingNode ?? throw Error(n, $"{where} must be a mapping (key: value lines), not {Describe(n)}");

        public string Scalar(YamlNode n, string where) =>
            n is YamlScalarNode s ? s.Value ?? "" : throw Error(n, $"{where} must be a single value, not {Describe(n)}");

        public IReadOnlyList<string> ScalarOrList(YamlNode n, string where) => n switch
        {
            YamlScalarNode s => [s.Value ?? ""],
            YamlSequenceNode q => [.. q.Children.Select((c, i) => Scalar(c, $"{where}[{i}]"))],
            _ => throw Error(n, $"{where} must be a value or a list of values, not {Describe(n)}"),
        };

        public IReadOnlyList<KeyValuePair<string, string>> StringMap(YamlNode? n, string where)
        {
            if (n is null)
            {
                return [];
            }

            if (n is YamlScalarNode s && Template.HasExpressions(s.Value ?? ""))
            {
                throw Error(n, $"{where}: a whole mapping from an expression is not supported by kindling replay yet; list the variables");
            }

            return [.. Mapping(n, where).Children.Select(kv =>
            {
                string key = Scalar(kv.Key, where);
                return KeyValuePair.Create(key, kv.Value is YamlScalarNode v
                    ? v.Value ?? ""
                    : throw Error(kv.Value, $"{where}.{key} must be a string, not {Describe(kv.Value)}"));
            })];
        }

        public RunDefaults Defaults(YamlNode? n, string where)
        {
            if (n is null)
            {
                return new RunDefaults(null, null);
            }

            YamlMappingNode m = Mapping(n, where);
            CheckKeys(m, ["run"], where);
            if (Get(m, "run") is not { } run)
            {
                return new RunDefaults(null, null);
            }

            YamlMappingNode r = Mapping(run, where + ".run");
            CheckKeys(r, ["shell", "working-directory"], where + ".run");
            return new RunDefaults(
                Get(r, "shell") is { } sh ? Scalar(sh, where + ".run.shell") : null,
                Get(r, "working-directory") is { } wd ? Scalar(wd, where + ".run.working-directory") : null);
        }

        public IReadOnlyList<string> Events(YamlNode on) => on switch
        {
            YamlScalarNode s => [s.Value ?? ""],
            YamlSequenceNode q => [.. q.Children.Select((c, i) => Scalar(c, $"on[{i}]"))],
            YamlMappingNode m => [.. m.Children.Keys.Select(k => Scalar(k, "on"))],
            _ => [],
        };

        public IReadOnlyList<KeyValuePair<string, ExprValue>> InputDefaults(YamlNode on)
        {
            if (on is not YamlMappingNode m)
            {
                return [];
            }

            List<KeyValuePair<string, ExprValue>> inputs = [];
            foreach (string trigger in (string[])["workflow_dispatch", "workflow_call"])
            {
                if (Get(m, trigger) is YamlMappingNode t && Get(t, "inputs") is YamlMappingNode ins)
                {
                    foreach ((YamlNode k, YamlNode v) in ins.Children)
                    {
                        string name = Scalar(k, $"on.{trigger}.inputs");
                        ExprValue value = v is YamlMappingNode def && Get(def, "default") is { } d ? Value(d) : ExprValue.Null;
                        if (inputs.All(i => i.Key != name))
                        {
                            inputs.Add(KeyValuePair.Create(name, value));
                        }
                    }
                }
            }

            return inputs;
        }

        public IReadOnlyList<CallInput> CallInputs(YamlNode on)
        {
            if (on is not YamlMappingNode m || Get(m, "workflow_call") is not YamlMappingNode t || Get(t, "inputs") is not YamlMappingNode ins)
            {
                return [];
            }

            return [.. ins.Children.Select(kv =>
            {
                string name = Scalar(kv.Key, "on.workflow_call.inputs");
                YamlMappingNode? def = kv.Value as YamlMappingNode;
                return new CallInput(name,
                    def is not null && Get(def, "default") is { } d ? Value(d) : null,
                    def is not null && Get(def, "type") is YamlScalarNode { Value: { } type } ? type : null,
                    def is not null && Get(def, "required") is YamlScalarNode { Value: { } req } && req.Equals("true", StringComparison.OrdinalIgnoreCase));
            })];
        }

        public IReadOnlyDictionary<string, string> InputTypes(YamlNode on)
        {
            var types = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (on is not YamlMappingNode m)
            {
                return types;
            }

            foreach (string trigger in (string[])["workflow_dispatch", "workflow_call"])
            {
                if (Get(m, trigger) is YamlMappingNode t && Get(t, "inputs") is YamlMappingNode ins)
                {
                    foreach ((YamlNode k, YamlNode v) in ins.Children)
                    {
                        if (v is YamlMappingNode def && Get(def, "type") is YamlScalarNode { Value: { } type })
                        {
                            types.TryAdd(Scalar(k, $"on.{trigger}.inputs"), type);
                        }
                    }
                }
            }

            return types;
        }

        /// <summary>
        /// Every <c>needs:</c> names a job of this workflow and the jobs form no cycle; GitHub refuses the workflow
        /// otherwise, so replay does too (with the line of the needs:).
        /// </summary>
        public void CheckNeeds(YamlMappingNode jobs, IReadOnlyList<WorkflowJob> parsed)
        {
            string[] ids = [.. parsed.Select(j => j.Id)];
            foreach ((YamlNode key, YamlNode value) in jobs.Children)
            {
                WorkflowJob job = parsed.First(j => j.Id == Scalar(key, "jobs"));
                YamlNode at = value is YamlMappingNode m && Get(m, "needs") is { } n ? n : key;
                foreach (string need in job.Needs)
                {
                    if (need == job.Id)
                    {
                        throw Error(at, $"job '{job.Id}' needs itself; remove '{need}' from its needs:");
                    }

                    if (!ids.Contains(need, StringComparer.Ordinal))
                    {
                        throw Error(at, $"job '{job.Id}' needs '{need}', which is not a job of this workflow (its jobs: {string.Join(", ", ids)})");
                    }
                }
            }

            if (JobGraph.FindCycle(parsed) is { } cycle)
            {
                WorkflowJob first = parsed.First(j => j.Id == cycle[0]);
                throw new WorkflowException(file, first.Mark, $"the jobs' needs: form a cycle ({string.Join(" -> ", cycle)}); GitHub refuses such a workflow");
            }
        }

        public WorkflowJob Job(YamlNode key, YamlNode value)
        {
            string id = Scalar(key, "jobs");
            if (!JobIdPattern().IsMatch(id))
            {
                throw Error(key, $"job id '{id}' must start with a letter or _ and contain only letters, digits, - and _");
            }

            string w = $"jobs.{id}";
            YamlMappingNode j = Mapping(value, w);
            CheckKeys(j, JobKeys, $"job '{id}'");
            string? uses = Get(j, "uses") is { } u ? Scalar(u, w + ".uses") : null;
            YamlNode? steps = Get(j, "steps");
            if (uses is null && steps is null)
            {
                throw Error(key, $"job '{id}' has no steps: (and does not call a reusable workflow with uses:)");
            }

            if (uses is null && Get(j, "runs-on") is null)
            {
                throw Error(key, $"job '{id}' has no runs-on: (GitHub requires it; e.g. runs-on: ubuntu-latest)");
            }

            return new WorkflowJob
            {
                Id = id,
                Name = Get(j, "name") is { } n ? Scalar(n, w + ".name") : null,
                RunsOn = Get(j, "runs-on") is { } r ? RunsOn(r, w + ".runs-on") : [],
                Needs = Get(j, "needs") is { } nd ? ScalarOrList(nd, w + ".needs") : [],
                If = Get(j, "if") is { } iff ? Scalar(iff, w + ".if") : null,
                Env = StringMap(Get(j, "env"), w + ".env"),
                Defaults = Defaults(Get(j, "defaults"), w + ".defaults"),
                Matrix = Get(j, "strategy") is { } st ? Matrix(st, w + ".strategy") : null,
                FailFast = Get(j, "strategy") is YamlMappingNode sff && Get(sff, "fail-fast") is { } ff ? Scalar(ff, w + ".strategy.fail-fast") : null,
                MaxParallel = Get(j, "strategy") is YamlMappingNode smp && Get(smp, "max-parallel") is { } mp ? Scalar(mp, w + ".strategy.max-parallel") : null,
                Outputs = StringMap(Get(j, "outputs"), w + ".outputs"),
                ContinueOnError = Get(j, "continue-on-error") is { } jcoe ? Scalar(jcoe, w + ".continue-on-error") : null,
                TimeoutMinutes = Get(j, "timeout-minutes") is { } tm ? Scalar(tm, w + ".timeout-minutes") : null,
                Uses = uses,
                With = StringMap(Get(j, "with"), w + ".with"),
                SecretsInherit = Get(j, "secrets") is YamlScalarNode { Value: "inherit" },
                Secrets = Get(j, "secrets") is YamlMappingNode sec ? StringMap(sec, w + ".secrets") : [],
                Container = Get(j, "container") is { } container ? Container(container, w + ".container") : null,
                Services = Get(j, "services") is YamlMappingNode sv ? [.. sv.Children.Keys.Select(k => Scalar(k, w + ".services"))] : [],
                Steps = steps is null ? [] : Steps(steps, w),
                Mark = Mark(key),
            };
        }

        private JobContainer Container(YamlNode n, string where)
        {
            if (n is YamlScalarNode s)
            {
                return new JobContainer { Image = s.Value ?? "" };
            }

            if (n is not YamlMappingNode m)
            {
                throw Error(n, $"{where} must be an image name or a mapping with image:");
            }

            CheckKeys(m, ["image", "credentials", "env", "ports", "volumes", "options"], where);
            (string?, string?)? credentials = null;
            if (Get(m, "credentials") is { } c)
            {
                YamlMappingNode cm = Mapping(c, where + ".credentials");
                CheckKeys(cm, ["username", "password"], where + ".credentials");
                credentials = (Get(cm, "username") is { } u ? Scalar(u, where + ".credentials.username") : null,
                    Get(cm, "password") is { } pw ? Scalar(pw, where + ".credentials.password") : null);
            }

            return new JobContainer
            {
                Image = Get(m, "image") is { } img ? Scalar(img, where + ".image") : "",
                Env = StringMap(Get(m, "env"), where + ".env"),
                Options = Get(m, "options") is { } o ? Scalar(o, where + ".options") : null,
                Credentials = credentials,
                Ports = Get(m, "ports") is { } ports ? ScalarOrList(ports, where + ".ports") : [],
                Volumes = Get(m, "volumes") is { } vols ? ScalarOrList(vols, where + ".volumes") : [],
            };
        }

        private IReadOnlyList<string> RunsOn(YamlNode n, string where)
        {
            if (n is YamlMappingNode m)
            {
                CheckKeys(m, ["group", "labels"], where);
                return Get(m, "labels") is { } l ? ScalarOrList(l, where + ".labels") : [];
            }

            return ScalarOrList(n, where);
        }

        public IReadOnlyList<WorkflowStep> Steps(YamlNode n, string w)
        {
            if (n is not YamlSequenceNode seq)
            {
                throw Error(n, $"{w}.steps must be a list of steps (lines starting with -), not {Describe(n)}");
            }

            if (seq.Children.Count == 0)
            {
                throw Error(n, $"{w}.steps is empty; a job needs at least one step");
            }

            List<WorkflowStep> steps = [];
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string sw = $"{w}.steps[{i}]";
                YamlMappingNode s = Mapping(seq.Children[i], sw);
                CheckKeys(s, StepKeys, $"step {i + 1} of job '{w["jobs.".Length..]}'");
                string? run = Get(s, "run") is { } r ? Scalar(r, sw + ".run") : null;
                string? uses = Get(s, "uses") is { } u ? Scalar(u, sw + ".uses") : null;
                if ((run is null) == (uses is null))
                {
                    throw Error(s, $"step {i + 1} of job '{w["jobs.".Length..]}' needs exactly one of run: or uses:");
                }

                if (uses is not null && UsesReference.Problem(uses) is { } bad)
                {
                    throw Error(Get(s, "uses")!, $"step {i + 1} of job '{w["jobs.".Length..]}': uses: {uses}: {bad}");
                }

                steps.Add(new WorkflowStep
                {
                    Number = i + 1,
                    Id = Get(s, "id") is { } id ? Scalar(id, sw + ".id") : null,
                    Name = Get(s, "name") is { } nm ? Scalar(nm, sw + ".name") : null,
                    Run = run,
                    Uses = uses,
                    With = StringMap(Get(s, "with"), sw + ".with"),
                    Env = StringMap(Get(s, "env"), sw + ".env"),
                    Shell = Get(s, "shell") is { } sh ? Scalar(sh, sw + ".shell") : null,
                    WorkingDirectory = Get(s, "working-directory") is { } wd ? Scalar(wd, sw + ".working-directory") : null,
                    If = Get(s, "if") is { } iff ? Scalar(iff, sw + ".if") : null,
                    ContinueOnError = Get(s, "continue-on-error") is { } coe ? Scalar(coe, sw + ".continue-on-error") : null,
                    TimeoutMinutes = Get(s, "timeout-minutes") is { } tm ? Scalar(tm, sw + ".timeout-minutes") : null,
                    Mark = Mark(s),
                });
            }

            return steps;
        }

        private MatrixSpec? Matrix(YamlNode strategy, string where)
        {
            YamlMappingNode st = Mapping(strategy, where);
            CheckKeys(st, ["matrix", "fail-fast", "max-parallel"], where);
            if (Get(st, "matrix") is not { } m)
            {
                return null;
            }

            string mw = where + ".matrix";
            if (m is YamlScalarNode expr)
            {
                return Template.HasExpressions(expr.Value ?? "")
                    ? new MatrixSpec { Expression = expr.Value, Mark = Mark(m) }
                    : throw Error(m, $"{mw} must be a mapping of keys to lists (or one ${{{{ }}}} expression), not '{expr.Value}'");
            }

            List<MatrixAxis> axes = [];
            IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> include = [], exclude = [];
            foreach ((YamlNode k, YamlNode v) in Mapping(m, mw).Children)
            {
                string key = Scalar(k, mw);
                switch (key)
                {
                    case "include":
                        include = Combinations(v, mw + ".include");
                        break;
                    case "exclude":
                        exclude = Combinations(v, mw + ".exclude");
                        break;
                    default:
                        axes.Add(v switch
                        {
                            YamlSequenceNode q => new MatrixAxis(key, [.. q.Children.Select(Value)]),
                            YamlScalarNode s when Template.HasExpressions(s.Value ?? "") => new MatrixAxis(key, [], s.Value),
                            _ => throw Error(v, $"{mw}.{key} must be a list of values (e.g. [a, b]), not {Describe(v)}"),
                        });
                        break;
                }
            }

            return new MatrixSpec { Axes = axes, Include = include, Exclude = exclude, Mark = Mark(m) };
        }

        private IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> Combinations(YamlNode n, string where)
        {
            if (n is not YamlSequenceNode q)
            {
                throw Error(n, $"{where} must be a list of mappings, not {Describe(n)}");
            }

            return [.. q.Children.Select((c, i) => (IReadOnlyList<KeyValuePair<string, ExprValue>>)
                [.. Mapping(c, $"{where}[{i}]").Children.Select(kv => KeyValuePair.Create(Scalar(kv.Key, $"{where}[{i}]"), Value(kv.Value)))])];
        }

        private static bool Similar(string a, string b)
        {
            if (a.Length < 3 || b.Length < 3) return false;
            return a.StartsWith(b, StringComparison.OrdinalIgnoreCase) || b.StartsWith(a, StringComparison.OrdinalIgnoreCase) ||
                   a.Replace("-", "", StringComparison.Ordinal).Equals(b.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        }
    }

    private static string Describe(YamlNode n) => n switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => $"'{s.Value}'",
        _ => "this",
    };

    /// <summary>A YAML value with YAML 1.2 core-schema types for plain scalars (quoted scalars are always strings).</summary>
    public static ExprValue Value(YamlNode n) => n switch
    {
        YamlMappingNode m => ExprValue.Object(m.Children.Select(kv => KeyValuePair.Create(kv.Key is YamlScalarNode ks ? ks.Value ?? "" : kv.Key.ToString(), Value(kv.Value)))),
        YamlSequenceNode q => ExprValue.Array([.. q.Children.Select(Value)]),
        YamlScalarNode s when s.Style is ScalarStyle.Plain => PlainScalar(s.Value ?? ""),
        YamlScalarNode s => ExprValue.String(s.Value ?? ""),
        _ => ExprValue.Null,
    };

    private static ExprValue PlainScalar(string v)
    {
        switch (v)
        {
            case "" or "~" or "null" or "Null" or "NULL": return ExprValue.Null;
            case "true" or "True" or "TRUE": return ExprValue.True;
            case "false" or "False" or "FALSE": return ExprValue.False;
            case ".inf" or ".Inf" or ".INF" or "+.inf": return ExprValue.Number(double.PositiveInfinity);
            case "-.inf" or "-.Inf" or "-.INF": return ExprValue.Number(double.NegativeInfinity);
            case ".nan" or ".NaN" or ".NAN": return ExprValue.Number(double.NaN);
        }

        if (IntPattern().IsMatch(v) && long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long i)) return ExprValue.Number(i);
        if (v.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(v.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long h)) return ExprValue.Number(h);
        if (v.StartsWith("0o", StringComparison.Ordinal) && v.Length > 2 && v[2..].All(c => c is >= '0' and <= '7')) return ExprValue.Number(Convert.ToInt64(v[2..], 8));
        if (FloatPattern().IsMatch(v)) return ExprValue.Number(double.Parse(v, CultureInfo.InvariantCulture));
        return ExprValue.String(v);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
