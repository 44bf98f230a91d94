using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Kindling.Runner.Network;

/// <summary>What one TAP has in the table as listed (any part may be missing after a crash half-way).</summary>
public sealed class TapElements(string tap)
{
    public string TapName { get; } = tap;
    public string? GuestAddress { get; set; }
    public string? GuestMac { get; set; }
    public string? Gateway { get; set; }
    public string? EgressChain { get; set; }
    public bool InTx { get; set; }
    public bool InRx { get; set; }
    public (long Packets, long Bytes)? TxCounter { get; set; }
    public (long Packets, long Bytes)? RxCounter { get; set; }

    /// <summary>The entry to re-add, when the VM's identity and egress are both there.</summary>
    public GuestVmEntry? Entry(Func<string, string> chain) =>
        GuestAddress is { } ip && GuestMac is { } mac && EgressChain is { } egress
            ? new GuestVmEntry(TapName, ip, mac, Gateway ?? "", chain(egress), Gateway is not null)
            : null;

    /// <summary>Deletes whatever of this TAP is present (one transaction).</summary>
    public string RemoveBatch()
    {
        string t = NftRuleset.Table, q = $"\"{TapName}\"";
        var b = new StringBuilder();
        if (InTx) b.Append(CultureInfo.InvariantCulture, $"delete element {t} tx {{ {q} }}\n");
        if (InRx) b.Append(CultureInfo.InvariantCulture, $"delete element {t} rx {{ {q} }}\n");
        if (EgressChain is not null) b.Append(CultureInfo.InvariantCulture, $"delete element {t} egress {{ {q} }}\n");
        if (Gateway is not null) b.Append(CultureInfo.InvariantCulture, $"delete element {t} gateways {{ {q} . {Gateway} }}\n");
        if (GuestAddress is not null) b.Append(CultureInfo.InvariantCulture, $"delete element {t} guests {{ {q} . {GuestAddress} . {GuestMac} }}\n");
        if (TxCounter is not null) b.Append(CultureInfo.InvariantCulture, $"delete counter {t} {TapName}_tx\n");
        if (RxCounter is not null) b.Append(CultureInfo.InvariantCulture, $"delete counter {t} {TapName}_rx\n");
        return b.ToString();
    }
}

/// <summary>Reads <c>nft -j list table inet kindling</c>: per TAP, its elements and counters.</summary>
public static class NftSnapshot
{
    public static Dictionary<string, TapElements> Parse(string json)
    {
        Dictionary<string, TapElements> taps = new(StringComparer.Ordinal);
        TapElements Tap(string name) => taps.TryGetValue(name, out TapElements? t) ? t : taps[name] = new TapElements(name);
        using JsonDocument doc = JsonDocument.Parse(json);
        foreach (JsonElement item in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("counter", out JsonElement counter))
            {
                string name = counter.GetProperty("name").GetString()!;
                (long, long) value = (counter.GetProperty("packets").GetInt64(), counter.GetProperty("bytes").GetInt64());
                if (name.EndsWith("_tx", StringComparison.Ordinal)) Tap(name[..^3]).TxCounter = value;
                else if (name.EndsWith("_rx", StringComparison.Ordinal)) Tap(name[..^3]).RxCounter = value;
                continue;
            }

            JsonElement set = item.TryGetProperty("set", out JsonElement s) ? s : item.TryGetProperty("map", out JsonElement m) ? m : default;
            if (set.ValueKind != JsonValueKind.Object || !set.TryGetProperty("elem", out JsonElement elems))
            {
                continue;
            }

            string setName = set.GetProperty("name").GetString()!;
            foreach (JsonElement e in elems.EnumerateArray())
            {
                switch (setName)
                {
                    case "guests":
                    {
                        JsonElement[] key = [.. e.GetProperty("concat").EnumerateArray()];
                        TapElements t = Tap(key[0].GetString()!);
                        t.GuestAddress = key[1].GetString();
                        t.GuestMac = key[2].GetString();
                        break;
                    }

                    case "gateways":
                    {
                        JsonElement[] key = [.. e.GetProperty("concat").EnumerateArray()];
                        Tap(key[0].GetString()!).Gateway = key[1].GetString();
                        break;
                    }

                    case "egress":
                    {
                        JsonElement[] pair = [.. e.EnumerateArray()];
                        JsonElement verdict = pair[1];
                        string? target = verdict.TryGetProperty("goto", out JsonElement g) ? g.GetProperty("target").GetString()
                            : verdict.TryGetProperty("jump", out JsonElement j) ? j.GetProperty("target").GetString() : null;
                        Tap(pair[0].GetString()!).EgressChain = target ?? NftRuleset.NoneChain;
                        break;
                    }

                    case "tx":
                        Tap(e[0].GetString()!).InTx = true;
                        break;
                    case "rx":
                        Tap(e[0].GetString()!).InRx = true;
                        break;
                }
            }
        }

        return taps;
    }
}
