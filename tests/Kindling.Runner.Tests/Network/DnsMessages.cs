using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Kindling.Runner.Tests.Network;

/// <summary>An answer's RCODE and first A record.</summary>
public sealed record DnsAnswer(int Rcode, IPAddress? Address);

/// <summary>Just enough of RFC 1035 for the lab: one-question A queries and their answers.</summary>
public static class DnsMessages
{
    private const ushort TypeA = 1;
    private const ushort ClassIn = 1;
    private const int Header = 12;

    public static byte[] Query(string name, ushort id)
    {
        var m = new List<byte>(new byte[Header]);
        BinaryPrimitives.WriteUInt16BigEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(m), id);
        m[2] = 0x01; // RD
        m[5] = 1; // QDCOUNT
        foreach (string label in name.TrimEnd('.').Split('.'))
        {
            m.Add((byte)label.Length);
            m.AddRange(Encoding.ASCII.GetBytes(label));
        }

        m.AddRange(new byte[] { 0, 0, (byte)TypeA, 0, (byte)ClassIn });
        return [.. m];
    }

    /// <summary>An authoritative answer to <paramref name="query"/> from <paramref name="names"/> (NXDOMAIN for others).</summary>
    public static byte[] Answer(byte[] query, IReadOnlyDictionary<string, IPAddress> names)
    {
        (string name, int end) = ReadName(query);
        byte[] question = query[Header..(end + 4)]; // the name, QTYPE and QCLASS
        bool found = names.TryGetValue(name, out IPAddress? address);
        var m = new List<byte>(query[..Header]);
        m[2] = 0x85; // QR, AA, RD
        m[3] = (byte)(found ? 0x80 : 0x83); // RA, NOERROR or NXDOMAIN
        m[4] = 0; m[5] = 1; m[6] = 0; m[7] = (byte)(found ? 1 : 0); m[8] = 0; m[9] = 0; m[10] = 0; m[11] = 0;
        m.AddRange(question);
        if (found)
        {
            m.AddRange(new byte[] { 0xC0, Header, 0, (byte)TypeA, 0, (byte)ClassIn, 0, 0, 0, 60, 0, 4 });
            m.AddRange(address!.GetAddressBytes());
        }

        return [.. m];
    }

    public static DnsAnswer Parse(byte[] answer, byte[] query)
    {
        if (answer.Length < Header || answer[0] != query[0] || answer[1] != query[1] || (answer[2] & 0x80) == 0)
        {
            throw new InvalidDataException("not an answer to the query");
        }

        int rcode = answer[3] & 0x0F;
        int answers = BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(6));
        if (answers == 0 || BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(4)) == 0)
        {
            return new DnsAnswer(rcode, null);
        }

        (_, int at) = ReadName(answer);
        at += 4; // QTYPE, QCLASS
        at += 2 + 2 + 2 + 4; // compressed name, TYPE, CLASS, TTL
        int length = BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(at));
        return new DnsAnswer(rcode, length == 4 ? new IPAddress(answer.AsSpan(at + 2, 4)) : null);
    }

    /// <summary>One DNS-over-TCP message, as the forwarder reads it; the end of the stream is an error here.</summary>
    public static async Task<byte[]> ReadFramedAsync(Stream s, CancellationToken ct) =>
        await Kindling.Runner.Network.DnsForwarder.ReadFramedAsync(s, ct) ?? throw new IOException("the connection ended before a DNS message");

    public static Task WriteFramedAsync(Stream s, byte[] message, CancellationToken ct) => Kindling.Runner.Network.DnsForwarder.WriteFramedAsync(s, message, ct);

    /// <summary>The question's name and where the question's name ends.</summary>
    private static (string Name, int End) ReadName(byte[] m)
    {
        var labels = new List<string>();
        int at = Header;
        while (m[at] != 0)
        {
            labels.Add(Encoding.ASCII.GetString(m, at + 1, m[at]));
            at += m[at] + 1;
        }

        return (string.Join('.', labels), at + 1);
    }
}
