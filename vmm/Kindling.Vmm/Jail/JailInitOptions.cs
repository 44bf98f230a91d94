using System.Globalization;
using System.Runtime.InteropServices;
using Kindling.Vmm.Jail.Seccomp;

namespace Kindling.Vmm.Jail;

/// <summary>
/// The arguments of the internal <c>jail-init</c> mode: what the process started inside the new namespaces does
/// before it becomes the VMM. Written by <see cref="JailLauncher"/>, parsed by <see cref="JailInit"/>.
/// </summary>
public sealed record JailInitOptions
{
    public const string Mode = "jail-init";

    public required string Id { get; init; }

    /// <summary>Host path of the jail's root folder (pivot_root target).</summary>
    public required string Root { get; init; }

    public required uint Uid { get; init; }

    public required uint Gid { get; init; }

    /// <summary>cgroup.procs files the process writes itself into before anything else.</summary>
    public IReadOnlyList<string> ProcsFiles { get; init; } = [];

    /// <summary>Host folders bound read-only at the same path inside the jail (the .NET runtime, the app).</summary>
    public IReadOnlyList<string> ReadOnlyDirectories { get; init; } = [];

    /// <summary>Files that could not be hard-linked (another file system): bound from host path to jail path.</summary>
    public IReadOnlyList<JailResource> BoundFiles { get; init; } = [];

    public ulong? RlimitNoFile { get; init; }

    public ulong? RlimitFsize { get; init; }

    public IReadOnlyList<int> KeepFds { get; init; } = [];

    public JailDebugAction DebugAction { get; init; } = JailDebugAction.None;

    /// <summary>Tracing only (see <see cref="JailSpec.SeccompLogOnly"/>): syscalls outside the allowlist are logged, not killed.</summary>
    public bool SeccompLogOnly { get; init; }

    /// <summary>
    /// The seccomp program, compiled by the jailer (as Firecracker's filters are compiled ahead of time): the
    /// jailed process only installs it, and its start-up does not pay for compiling the allowlist. Null: the
    /// jailed process compiles it itself.
    /// </summary>
    public SockFilter[]? SeccompProgram { get; init; }

    public IReadOnlyList<string> VmmArgs { get; init; } = [];

    /// <summary>The argument list, starting with <see cref="Mode"/>.</summary>
    public IReadOnlyList<string> ToArgs()
    {
        List<string> args = [Mode, "--id", Id, "--root", Root, "--uid", Str(Uid), "--gid", Str(Gid)];
        foreach (string file in ProcsFiles)
        {
            args.AddRange(["--cgroup-procs", file]);
        }

        foreach (string dir in ReadOnlyDirectories)
        {
            args.AddRange(["--bind-ro", dir]);
        }

        foreach (JailResource file in BoundFiles)
        {
            args.AddRange([file.Writable ? "--bind-file-rw" : "--bind-file", file.HostPath, file.JailPath]);
        }

        if (RlimitNoFile is { } nofile)
        {
            args.AddRange(["--rlimit-nofile", Str(nofile)]);
        }

        if (RlimitFsize is { } fsize)
        {
            args.AddRange(["--rlimit-fsize", Str(fsize)]);
        }

        foreach (int fd in KeepFds)
        {
            args.AddRange(["--keep-fd", Str(checked((ulong)fd))]);
        }

        if (DebugAction != JailDebugAction.None)
        {
            args.AddRange(["--debug", DebugAction.ToString()]);
        }

        if (SeccompLogOnly)
        {
            args.Add("--seccomp-log");
        }

        if (SeccompProgram is { } program)
        {
            args.AddRange(["--seccomp-bpf", Convert.ToBase64String(MemoryMarshal.AsBytes(program.AsSpan()))]);
        }

        args.Add("--");
        args.AddRange(VmmArgs);
        return args;
    }

    /// <summary>Parses arguments written by <see cref="ToArgs"/> (the first one is <see cref="Mode"/>).</summary>
    public static JailInitOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] != Mode)
        {
            throw new JailException($"{Mode}: expected '{Mode}' as the first argument");
        }

        string? id = null, root = null;
        uint? uid = null, gid = null;
        List<string> procs = [], dirs = [];
        List<JailResource> files = [];
        List<int> keep = [];
        ulong? nofile = null, fsize = null;
        JailDebugAction debug = JailDebugAction.None;
        bool seccompLog = false;
        SockFilter[]? program = null;
        int i = 1;
        string Next(string flag) => i + 1 < args.Count ? args[++i] : throw new JailException($"{Mode}: {flag} needs a value");
        for (; i < args.Count; i++)
        {
            string flag = args[i];
            if (flag == "--")
            {
                i++;
                break;
            }

            switch (flag)
            {
                case "--id": id = Next(flag); break;
                case "--root": root = Next(flag); break;
                case "--uid": uid = checked((uint)ParseUnsigned(Next(flag), flag)); break;
                case "--gid": gid = checked((uint)ParseUnsigned(Next(flag), flag)); break;
                case "--cgroup-procs": procs.Add(Next(flag)); break;
                case "--bind-ro": dirs.Add(Next(flag)); break;
                case "--bind-file":
                case "--bind-file-rw":
                    files.Add(new JailResource(Next(flag), Next(flag), flag == "--bind-file-rw"));
                    break;
                case "--rlimit-nofile": nofile = ParseUnsigned(Next(flag), flag); break;
                case "--rlimit-fsize": fsize = ParseUnsigned(Next(flag), flag); break;
                case "--keep-fd": keep.Add(checked((int)ParseUnsigned(Next(flag), flag))); break;
                case "--debug":
                    string value = Next(flag);
                    debug = ParseDebugAction(value) ?? throw new JailException($"{Mode}: unknown --debug action '{value}'");
                    break;
                case "--seccomp-log": seccompLog = true; break;
                case "--seccomp-bpf": program = ParseProgram(Next(flag)); break;
                default: throw new JailException($"{Mode}: unknown argument '{flag}'");
            }
        }

        return new JailInitOptions
        {
            Id = JailId.Validate(id),
            Root = root ?? throw new JailException($"{Mode}: --root is required"),
            Uid = uid is { } u ? (uint)u : throw new JailException($"{Mode}: --uid is required"),
            Gid = gid is { } g ? (uint)g : throw new JailException($"{Mode}: --gid is required"),
            ProcsFiles = procs,
            ReadOnlyDirectories = dirs,
            BoundFiles = files,
            RlimitNoFile = nofile,
            RlimitFsize = fsize,
            KeepFds = keep,
            DebugAction = debug,
            SeccompLogOnly = seccompLog,
            SeccompProgram = program,
            VmmArgs = [.. args.Skip(i)],
        };
    }

    /// <summary>The action named <paramref name="name"/> (its enum name), or null. No reflection: this runs at jail start.</summary>
    public static JailDebugAction? ParseDebugAction(string name) => name switch
    {
        nameof(JailDebugAction.Report) => JailDebugAction.Report,
        nameof(JailDebugAction.Ready) => JailDebugAction.Ready,
        nameof(JailDebugAction.ForbiddenSyscall) => JailDebugAction.ForbiddenSyscall,
        nameof(JailDebugAction.Workload) => JailDebugAction.Workload,
        _ => null,
    };

    private static SockFilter[] ParseProgram(string base64)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new JailException($"{Mode}: --seccomp-bpf is not base64");
        }

        int size = Marshal.SizeOf<SockFilter>();
        if (bytes.Length == 0 || bytes.Length % size != 0 || bytes.Length / size > Bpf.BPF_MAXINSNS)
        {
            throw new JailException($"{Mode}: --seccomp-bpf holds {bytes.Length} bytes; a program is 1 to {Bpf.BPF_MAXINSNS} instructions of {size} bytes");
        }

        return MemoryMarshal.Cast<byte, SockFilter>(bytes).ToArray();
    }

    private static ulong ParseUnsigned(string value, string flag) =>
        ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong result)
            ? result
            : throw new JailException($"{Mode}: {flag} '{value}' is not a non-negative integer");

    private static string Str(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
