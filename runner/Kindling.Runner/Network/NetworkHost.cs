using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Runner.Network;

/// <summary>What a tool printed and how it ended.</summary>
public sealed record ToolResult(int ExitCode, string Output, string Error);

/// <summary>
/// The network stack the guest network is built in: this host's (the daemon), or a named network namespace
/// (<c>ip netns</c>; tests and benchmarks stand a host, guests and an internet up in namespaces of their own). Tools
/// (<c>nft</c>, <c>ip</c>, <c>sysctl</c>) run through <c>ip netns exec</c> there, and sockets are created inside it
/// (a socket stays in the namespace it was created in, whichever thread uses it later).
/// </summary>
/// <param name="netns">The namespace's name (null: this host's stack).</param>
/// <param name="toolPath">PATH for the tools inside the namespace (tests: a host without nft).</param>
public sealed class NetworkHost(string? netns = null, string? toolPath = null)
{
    public static readonly NetworkHost Root = new();

    /// <summary>The namespace's name, or null for this host's own stack.</summary>
    public string? Namespace => netns;

    /// <summary>Runs a tool (with <paramref name="stdin"/> as its input); a tool that is not installed names its Debian package.</summary>
    public async Task<ToolResult> RunAsync(string tool, IReadOnlyList<string> args, string? stdin = null, CancellationToken ct = default)
    {
        var psi = new ProcessStartInfo(netns is null ? tool : "ip")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (netns is not null)
        {
            foreach (string a in (string[])["netns", "exec", netns, tool])
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C";
        if (toolPath is not null)
        {
            psi.Environment["PATH"] = toolPath;
        }

        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new NetworkSetupException($"could not start {tool}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new NetworkSetupException(MissingTool(netns is null ? tool : "ip"));
        }

        using (p)
        {
            Task<string> output = p.StandardOutput.ReadToEndAsync(ct);
            Task<string> error = p.StandardError.ReadToEndAsync(ct);
            if (stdin is not null)
            {
                await p.StandardInput.WriteAsync(stdin.AsMemory(), ct);
            }

            p.StandardInput.Close();
            await p.WaitForExitAsync(ct);
            string err = await error;
            if (netns is not null && p.ExitCode != 0 && err.Contains($"exec of \"{tool}\" failed", StringComparison.Ordinal))
            {
                throw new NetworkSetupException(MissingTool(tool));
            }

            return new ToolResult(p.ExitCode, await output, err);
        }
    }

    /// <summary>Runs a tool and fails with its error output when it fails.</summary>
    public async Task<string> RunCheckedAsync(string tool, IReadOnlyList<string> args, string? stdin = null, CancellationToken ct = default)
    {
        ToolResult r = await RunAsync(tool, args, stdin, ct);
        return r.ExitCode == 0 ? r.Output
            : throw new NetworkSetupException($"{tool} {string.Join(' ', args)} failed (exit {r.ExitCode}): {r.Error.Trim()}");
    }

    /// <summary>A socket in this network stack.</summary>
    public Socket Socket(AddressFamily family, SocketType type, ProtocolType protocol) =>
        netns is null ? new Socket(family, type, protocol) : InNamespace(netns, () => new Socket(family, type, protocol));

    /// <summary>Runs <paramref name="create"/> on a thread of its own that has entered the namespace <paramref name="name"/>.</summary>
    public static T InNamespace<T>(string name, Func<T> create)
    {
        T? result = default;
        Exception? failure = null;
        // The thread ends inside the namespace: it is never returned to a pool.
        var thread = new Thread(() =>
        {
            try
            {
                using SafeFileHandle ns = File.OpenHandle($"/run/netns/{name}");
                Processes.EnterNamespace(ns, Processes.CLONE_NEWNET);
                result = create();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "netns " + name };
        thread.Start();
        thread.Join();
        return failure is null ? result! : throw new NetworkSetupException($"cannot work in network namespace {name}: {failure.Message}", failure);
    }

    /// <summary>The interface of the IPv4 default route, or null when there is none.</summary>
    public async Task<string?> DefaultRouteInterfaceAsync(CancellationToken ct)
    {
        string json = await RunCheckedAsync("ip", ["-j", "-4", "route", "show", "default"], null, ct);
        using JsonDocument doc = JsonDocument.Parse(json.Length == 0 ? "[]" : json);
        return doc.RootElement.EnumerateArray().Select(r => r.TryGetProperty("dev", out JsonElement d) ? d.GetString() : null).FirstOrDefault(d => d is not null);
    }

    /// <summary>Whether an interface of that name exists in this stack.</summary>
    public async Task<bool> InterfaceExistsAsync(string name, CancellationToken ct) =>
        (await RunAsync("ip", ["link", "show", "dev", name], null, ct)).ExitCode == 0;

    public static string MissingTool(string tool) => tool switch
    {
        "nft" => "nft is not installed: the guest network needs Debian's nftables package (apt-get install -y nftables), or set Kindling:Launcher:Network to false",
        "ip" => "ip is not installed: the guest network needs Debian's iproute2 package (apt-get install -y iproute2)",
        "sysctl" => "sysctl is not installed: the guest network needs Debian's procps package (apt-get install -y procps)",
        _ => $"{tool} is not installed",
    };
}

/// <summary>The guest network could not be set up; the message says what to fix.</summary>
public sealed class NetworkSetupException(string message, Exception? inner = null) : IOException(message, inner);
