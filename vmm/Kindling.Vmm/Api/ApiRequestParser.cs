using System.Text.Json.Nodes;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Api;

/// <summary>
/// Turns one HTTP request (method, path, body) into a <see cref="VmmAction"/>, or a fault message for a 400.
/// Pure: no state, no devices. Paths and bodies are Firecracker's (firecracker.yaml). The path is taken as sent:
/// never percent-decoded and never dot-normalised, so a request names exactly one resource; ids in the path are
/// checked as Firecracker checks them (1..64 of A-Z a-z 0-9 _).
/// </summary>
public static class ApiRequestParser
{
    private static readonly string[] UnsupportedPrefixes =
        ["/balloon", "/hotplug/memory", "/pmem/", "/cpu-config"];

    public static ApiParseResult Parse(string method, string path, string body)
    {
        try
        {
            return new ApiParseResult(Route(method.ToUpperInvariant(), path.TrimEnd('/') is { Length: > 0 } p ? p : "/", body), null);
        }
        catch (VmConfigException e)
        {
            return new ApiParseResult(null, e.Message);
        }
        catch (MmdsException e)
        {
            return new ApiParseResult(null, e.Message);
        }
    }

    private static VmmAction Route(string method, string path, string body)
    {
        string[] segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string resource = segments.Length == 0 ? "/" : segments[0];
        if (resource is "drives" or "network-interfaces" && segments.Length == 2 && segments[1] is not ("." or ".."))
        {
            VmConfigValidator.ValidateId(segments[1], resource == "drives" ? "drive_id in the path" : "iface_id in the path");
        }

        CheckSegments(method, path, segments);

        switch (method, resource, segments.Length)
        {
            case ("GET", "/", 0): return new GetInstanceInfo();
            case ("GET", "version", 1): return new GetVersion();
            case ("GET", "vm", 2) when segments[1] == "config": return new GetVmConfig();
            case ("PATCH", "vm", 1): return ParseVmState(body);
            case ("GET", "machine-config", 1): return new GetMachineConfig();
            case ("PUT", "machine-config", 1): return new PutMachineConfig(Body<MachineConfig>(body, "machine-config"));
            case ("PATCH", "machine-config", 1): return new PatchMachineConfig(Body<MachineConfigUpdate>(body, "machine-config"));
            case ("PUT", "boot-source", 1): return new ConfigureBootSource(Body<BootSourceConfig>(body, "boot-source"));
            case ("PUT", "drives", 2):
                {
                    DriveConfig drive = Body<DriveConfig>(body, "drives");
                    SameId(segments[1], drive.DriveId, "drive_id");
                    return new InsertBlockDevice(drive);
                }

            case ("PATCH", "drives", 2):
                {
                    PartialDrive drive = Body<PartialDrive>(body, "drives");
                    SameId(segments[1], drive.DriveId, "drive_id");
                    return new UpdateBlockDevice(drive);
                }

            case ("PUT", "network-interfaces", 2):
                {
                    NetworkInterfaceConfig iface = Body<NetworkInterfaceConfig>(body, "network-interfaces");
                    SameId(segments[1], iface.IfaceId, "iface_id");
                    return new InsertNetworkDevice(iface);
                }

            case ("PATCH", "network-interfaces", 2):
                {
                    PartialNetworkInterface iface = Body<PartialNetworkInterface>(body, "network-interfaces");
                    SameId(segments[1], iface.IfaceId, "iface_id");
                    return new UpdateNetworkInterface(iface);
                }

            case ("PUT", "vsock", 1): return new SetVsockDevice(Body<VsockConfig>(body, "vsock"));
            case ("PUT", "entropy", 1): return new SetEntropyDevice(Body<EntropyConfig>(body, "entropy"));
            case ("PUT", "logger", 1): return new ConfigureLogger(Body<LoggerConfig>(body, "logger"));
            case ("PUT", "metrics", 1): return new ConfigureMetrics(Body<MetricsConfig>(body, "metrics"));
            case ("PUT", "serial", 1): return new ConfigureSerial(Body<SerialConfig>(body, "serial"));
            case ("GET", "mmds", 1): return new GetMmds();
            case ("PUT", "mmds", 1): return new PutMmds(JsonBody(body, "mmds"));
            case ("PATCH", "mmds", 1): return new PatchMmds(JsonBody(body, "mmds"));
            case ("PUT", "mmds", 2) when segments[1] == "config": return new SetMmdsConfig(Body<MmdsConfig>(body, "mmds-config"));
            case ("PUT", "actions", 1): return ParseAction(body);
            case ("PUT", "snapshot", 2) when segments[1] == "create":
                return SnapshotRequestParser.ParseCreate(Body<SnapshotCreateParams>(body, "snapshot/create"));
            case ("PUT", "snapshot", 2) when segments[1] == "load":
                return SnapshotRequestParser.ParseLoad(Body<SnapshotLoadParams>(body, "snapshot/load"));
        }

        if (UnsupportedPrefixes.Any(u => path == u || path.StartsWith(u.TrimEnd('/') + "/", StringComparison.Ordinal)))
        {
            return new UnsupportedResource(path);
        }

        throw new VmConfigException($"Invalid request method and/or path: {method} {path}.");
    }

    private static T Body<T>(string body, string what)
    {
        RequireBody(body, what);
        return VmConfigJson.Parse<T>(body, what, ApiJson.Options);
    }

    private static JsonNode? JsonBody(string body, string what)
    {
        RequireBody(body, what);
        return MmdsJson.Parse(body, what);
    }

    /// <summary>Segments are names of the API's resources and ids: no dot segments, no percent-encoding.</summary>
    private static void CheckSegments(string method, string path, string[] segments)
    {
        foreach (string segment in segments)
        {
            if (segment is "." or "..")
            {
                throw new VmConfigException($"Invalid request path: {method} {path}: the segments . and .. are not allowed (paths are never normalised)");
            }

            if (!segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                throw new VmConfigException(
                    $"Invalid request method and/or path: {method} {path}: path segments are resource names and ids of A-Z a-z 0-9 _ (no percent-encoding or query)");
            }
        }
    }

    private static void RequireBody(string body, string what)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            throw new VmConfigException($"{what}: the request body is empty; send a JSON object");
        }
    }

    private static void SameId(string fromPath, string fromBody, string field)
    {
        if (!string.Equals(fromPath, fromBody, StringComparison.Ordinal))
        {
            throw new VmConfigException($"The id from the path (\"{fromPath}\") does not match the {field} from the body (\"{fromBody}\").");
        }
    }

    private static VmmAction ParseAction(string body)
    {
        InstanceActionInfo info = Body<InstanceActionInfo>(body, "actions");
        return info.ActionType switch
        {
            InstanceActionInfo.InstanceStart => new StartMicroVm(),
            InstanceActionInfo.SendCtrlAltDel => new SendCtrlAltDel(),
            InstanceActionInfo.FlushMetrics => new FlushMetrics(),
            _ => throw new VmConfigException(
                $"actions.action_type \"{info.ActionType}\" is unknown; use {InstanceActionInfo.InstanceStart}, {InstanceActionInfo.SendCtrlAltDel} or {InstanceActionInfo.FlushMetrics}"),
        };
    }

    private static VmmAction ParseVmState(string body)
    {
        VmStateUpdate update = Body<VmStateUpdate>(body, "vm");
        return update.State switch
        {
            VmStateUpdate.Paused => new Pause(),
            VmStateUpdate.Resumed => new Resume(),
            _ => throw new VmConfigException($"vm.state \"{update.State}\" is unknown; use {VmStateUpdate.Paused} or {VmStateUpdate.Resumed}"),
        };
    }
}

/// <summary>Either an action to send to the VMM loop or a fault message for a 400.</summary>
public sealed record ApiParseResult(VmmAction? Action, string? FaultMessage);
