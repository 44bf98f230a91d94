using System.Buffers.Binary;
using System.Text;
using Kindling.Testing;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>The frames the <c>net</c> guest exchanges (tests/guests/net.c): EtherType 0x88B5, ASCII payloads.</summary>
internal static class EthernetFrames
{
    public const ushort EtherTypeKindling = 0x88B5;
    public const string GuestPayload = "KINDLING-NET-TX from the guest";
    public const string HostPayloadPrefix = "KINDLING-NET-RX";
    private const int HeaderLength = 14;
    private const int MinimumLength = 60;

    /// <summary>True when <paramref name="frame"/> is the guest's frame: our EtherType and the guest's payload.</summary>
    public static bool IsGuestFrame(ReadOnlySpan<byte> frame) =>
        frame.Length >= HeaderLength + GuestPayload.Length &&
        BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherTypeKindling &&
        frame.Slice(HeaderLength, GuestPayload.Length).SequenceEqual(Encoding.ASCII.GetBytes(GuestPayload));

    /// <summary>A broadcast frame with our EtherType and <paramref name="payload"/>, padded to 60 bytes.</summary>
    public static byte[] HostFrame(string payload)
    {
        byte[] text = Encoding.ASCII.GetBytes(payload);
        byte[] frame = new byte[Math.Max(MinimumLength, HeaderLength + text.Length)];
        frame.AsSpan(0, 6).Fill(0xFF);
        byte[] source = [0x02, 0x6b, 0x69, 0x6e, 0x64, 0x6c];
        source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypeKindling);
        text.CopyTo(frame, HeaderLength);
        return frame;
    }

    /// <summary>What the guest prints when it received <paramref name="payload"/>.</summary>
    public static string ReceivedLine(string payload) => $"net: received '{payload}'";

    /// <summary>
    /// The host side of the <c>net</c> scenario on a TAP: waits for the guest's frame on <paramref name="wire"/>,
    /// answers it with <paramref name="reply"/>, then waits for the guest run. Returns the run and whether the
    /// guest's frame appeared (no answer is sent when it did not).
    /// </summary>
    public static async Task<(GuestRunResult Run, bool GuestFrameSeen)> ExchangeAsync(
        Task<GuestRunResult> run, PacketSocket wire, string reply, TimeSpan frameTimeout, CancellationToken ct)
    {
        byte[]? guestFrame = await Task.Run(() => wire.Receive(f => IsGuestFrame(f), frameTimeout, ct), ct);
        if (guestFrame is not null)
        {
            wire.Send(HostFrame(reply));
        }

        return (await run, guestFrame is not null);
    }
}
