using System.IO.Pipelines;
using Kindling.Vmm.Devices;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class SerialHostIoTests
{
    private sealed class NoInterrupt : IInterruptTrigger
    {
        public void Trigger()
        {
        }
    }

    private sealed class BrokenPipeStream(int acceptBytes) : Stream
    {
        public int Attempts { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Attempts++;
            if (Attempts > acceptBytes)
            {
                throw new IOException("Broken pipe");
            }
        }
    }

    [Fact]
    public void StreamSerialOutput_WritesEachByteThrough()
    {
        using var stream = new MemoryStream();
        var output = new StreamSerialOutput(stream);

        Assert.True(output.TryWrite((byte)'o'));
        Assert.True(output.TryWrite((byte)'k'));

        Assert.Equal("ok"u8.ToArray(), stream.ToArray());
        Assert.Equal(2, output.BytesWritten);
    }

    [Fact]
    public void StreamSerialOutput_BrokenStream_DropsInsteadOfThrowing()
    {
        var stream = new BrokenPipeStream(acceptBytes: 1);
        var output = new StreamSerialOutput(stream);

        Assert.True(output.TryWrite(1));
        Assert.True(output.TryWrite(2)); // EPIPE from the stream: swallowed, output dropped from now on
        Assert.True(output.TryWrite(3));

        Assert.Equal(1, output.BytesWritten);
        Assert.Equal(2, stream.Attempts);
    }

    [Fact]
    public async Task SerialInputPump_InputLargerThanTheQueue_DeliversEveryByteAsTheGuestReads()
    {
        var pipe = new Pipe();
        using var uart = new Serial8250(new NoInterrupt(), new StreamSerialOutput(Stream.Null), inputCapacity: 4);
        using var pump = new SerialInputPump(pipe.Reader.AsStream(), uart);
        pump.Start();
        byte[] message = "hello, guest"u8.ToArray();
        await pipe.Writer.WriteAsync(message, TestContext.Current.CancellationToken);
        await pipe.Writer.CompleteAsync();

        var received = new List<byte>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        byte[] lsr = new byte[1];
        byte[] rbr = new byte[1];
        while (received.Count < message.Length && DateTime.UtcNow < deadline)
        {
            uart.Read(Uart8250Registers.LineStatus, lsr);
            if ((lsr[0] & Uart8250Registers.LsrDr) != 0)
            {
                uart.Read(Uart8250Registers.Data, rbr);
                received.Add(rbr[0]);
            }
            else
            {
                await Task.Yield();
            }
        }

        Assert.Equal(message, received);
    }
}
