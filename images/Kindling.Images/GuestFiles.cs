using System.Buffers.Binary;
using System.Security.Cryptography;
using Kindling.Images.Tools;

namespace Kindling.Images;

/// <summary>
/// The files from images/guest that go into the images (init, agent.sh, modules.list) and the static busybox,
/// with their content hashes (part of every image recipe).
/// </summary>
public sealed class GuestFiles
{
    public const string InitName = "init";
    public const string AgentName = "agent.sh";
    public const string ModuleListName = "modules.list";

    /// <summary>Where the agent and busybox live in every image (initramfs and base): /kindling/…</summary>
    public const string GuestAgentPath = "kindling/agent.sh";
    public const string GuestBusyboxPath = "kindling/bin/busybox";

    private const uint PtInterp = 3;

    private GuestFiles(string directory, string busyboxPath, byte[] init, byte[] agent, IReadOnlyList<string> modules, byte[] busybox)
    {
        Directory = directory;
        BusyboxPath = busyboxPath;
        Init = init;
        Agent = agent;
        Modules = modules;
        Busybox = busybox;
    }

    public string Directory { get; }
    public string BusyboxPath { get; }
    public byte[] Init { get; }
    public byte[] Agent { get; }
    public byte[] Busybox { get; }
    public IReadOnlyList<string> Modules { get; }

    /// <summary>The default guest directory: the copy next to the assembly (the csproj copies images/guest).</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "guest");

    public static GuestFiles Load(string directory, string busyboxPath)
    {
        byte[] Read(string name)
        {
            string p = Path.Combine(directory, name);
            return File.Exists(p)
                ? File.ReadAllBytes(p)
                : throw new ImageBuildException($"guest file {p} is missing; it comes from images/guest in the repository");
        }

        byte[] init = Read(InitName), agent = Read(AgentName);
        string[] modules = System.Text.Encoding.UTF8.GetString(Read(ModuleListName)).Split('\n')
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        if (!File.Exists(busyboxPath))
        {
            throw new ImageBuildException($"busybox not found at {busyboxPath}; install it: apt-get install -y busybox-static");
        }

        byte[] busybox = File.ReadAllBytes(busyboxPath);
        if (!IsStaticElf(busybox))
        {
            throw new ImageBuildException($"{busyboxPath} is not a static ELF executable; install busybox-static (not busybox)");
        }

        return new GuestFiles(directory, busyboxPath, init, agent, modules, busybox);
    }

    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>The applet names this busybox provides (<c>busybox --list</c>), sorted.</summary>
    public async Task<IReadOnlyList<string>> AppletsAsync(CancellationToken ct)
    {
        ProcessResult r = await ProcessRunner.RunAsync(BusyboxPath, ["--list"], cancellationToken: ct);
        return r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(a => a != "busybox" && !a.Contains('/', StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    private static bool IsStaticElf(ReadOnlySpan<byte> elf)
    {
        const int ePhoff = 32, ePhentsize = 54, ePhnum = 56, phdrSize = 56;
        if (elf.Length < 64 || BinaryPrimitives.ReadUInt32LittleEndian(elf) != 0x464C457F)
        {
            return false;
        }

        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf[ePhoff..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf[ePhnum..]);
        if (BinaryPrimitives.ReadUInt16LittleEndian(elf[ePhentsize..]) != phdrSize || phoff + ((ulong)phnum * phdrSize) > (ulong)elf.Length)
        {
            return false;
        }

        for (int i = 0; i < phnum; i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf[((int)phoff + (i * phdrSize))..]) == PtInterp)
            {
                return false;
            }
        }

        return true;
    }
}
