using System.Text;
using Kindling.Vmm.Mmds.Net;

namespace Kindling.Vmm.Tests.Mmds.Net;

/// <summary>A minimal guest-side TCP client driving <see cref="MmdsNetworkStack"/> with crafted frames.</summary>
internal sealed class GuestTcpClient(MmdsNetworkStack stack, ushort port, uint isn = 1000)
{
    public uint Seq { get; private set; } = isn;
    public uint Ack { get; private set; }
    public ushort Port => port;
    public List<byte> Received { get; } = [];
    public bool FinReceived { get; private set; }

    public static List<byte[]> Drain(MmdsNetworkStack stack)
    {
        var frames = new List<byte[]>();
        byte[] buffer = new byte[65536];
        while (stack.TryDequeue(buffer, out int n))
        {
            frames.Add(buffer[..n]);
        }

        return frames;
    }

    public SentSegment Connect()
    {
        Assert.True(stack.TryIntercept(GuestFrames.Tcp(port, Seq, 0, GuestFrames.Syn)));
        SentSegment synAck = GuestFrames.ReadTcp(Assert.Single(Drain(stack)));
        Assert.True(synAck.Has(GuestFrames.Syn) && synAck.Has(GuestFrames.Ack), "expected SYN-ACK");
        Assert.Equal(Seq + 1, synAck.Ack);
        Seq++;
        Ack = synAck.Seq + 1;
        Assert.True(stack.TryIntercept(GuestFrames.Tcp(port, Seq, Ack, GuestFrames.Ack)));
        Assert.Empty(Drain(stack));
        return synAck;
    }

    /// <summary>Sends <paramref name="data"/> in one segment, then collects and ACKs what comes back.</summary>
    public List<SentSegment> Send(string data, bool fin = false)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(data);
        byte flags = (byte)(GuestFrames.Ack | GuestFrames.Psh | (fin ? GuestFrames.Fin : 0));
        Assert.True(stack.TryIntercept(GuestFrames.Tcp(port, Seq, Ack, flags, bytes)));
        Seq += (uint)bytes.Length + (fin ? 1u : 0);
        return ReceiveAll();
    }

    /// <summary>Collects the stack's segments, appends in-order payload, ACKs them (until nothing more comes).</summary>
    public List<SentSegment> ReceiveAll(bool acknowledge = true)
    {
        var all = new List<SentSegment>();
        while (true)
        {
            List<byte[]> frames = Drain(stack);
            if (frames.Count == 0)
            {
                return all;
            }

            bool advanced = false;
            foreach (byte[] frame in frames)
            {
                SentSegment s = GuestFrames.ReadTcp(frame);
                all.Add(s);
                if (s.Seq == Ack && s.Payload.Length > 0)
                {
                    Received.AddRange(s.Payload);
                    Ack += (uint)s.Payload.Length;
                    advanced = true;
                }

                if (s.Has(GuestFrames.Fin) && !FinReceived && s.Seq + (uint)s.Payload.Length == Ack)
                {
                    Ack++;
                    FinReceived = true;
                    advanced = true;
                }
            }

            // Like a real stack: ACK only what advanced (never answer a bare ACK or RST).
            if (!acknowledge || !advanced)
            {
                return all;
            }

            stack.TryIntercept(GuestFrames.Tcp(port, Seq, Ack, GuestFrames.Ack));
        }
    }

    public string ReceivedText => Encoding.ASCII.GetString(Received.ToArray());
}
