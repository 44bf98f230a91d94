using System.Net.Sockets;

namespace Kindling.Vmm.Jail;

/// <summary>
/// Debug-only: exercises the runtime inside the jail the way the VMM does (a Unix-socket API listener served
/// through the runtime's epoll loop, dedicated threads, the thread pool, timers, GC, file I/O on the jail's
/// files), so the seccomp allowlist can be checked against it. Prints "WORKLOAD OK" and returns 0.
/// </summary>
internal static class JailWorkload
{
    private const string SocketPath = "/run/workload.sock";

    public static int Run()
    {
        using Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(4);
        Task server = Task.Run(async () =>
        {
            using Socket peer = await listener.AcceptAsync();
            byte[] buffer = new byte[16];
            int n = await peer.ReceiveAsync(buffer);
            await peer.SendAsync(buffer.AsMemory(0, n));
        });

        using (Socket client = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            client.Connect(new UnixDomainSocketEndPoint(SocketPath));
            client.Send("ping"u8);
            byte[] reply = new byte[4];
            int received = client.Receive(reply);
            if (received != 4 || !reply.AsSpan().SequenceEqual("ping"u8))
            {
                Console.Out.WriteLine("WORKLOAD FAIL socket echo");
                return 1;
            }
        }

        server.Wait();
        File.Delete(SocketPath);

        long sum = 0;
        Thread[] vcpus = [.. Enumerable.Range(0, 2).Select(i => new Thread(() => Interlocked.Add(ref sum, Spin(i))) { Name = $"vcpu{i}" })];
        foreach (Thread t in vcpus)
        {
            t.Start();
        }

        foreach (Thread t in vcpus)
        {
            t.Join();
        }

        Parallel.For(0, 8, i => Interlocked.Add(ref sum, Spin(i)));
        Task.Delay(20).Wait();
        using (ManualResetEventSlim fired = new())
        using (Timer timer = new(_ => fired.Set(), null, 5, Timeout.Infinite))
        {
            fired.Wait();
        }

        List<byte[]> garbage = [.. Enumerable.Range(0, 200).Select(_ => new byte[100_000])];
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/run/workload.txt", $"{sum} {garbage.Count}");
        string back = File.ReadAllText("/run/workload.txt");
        File.Delete("/run/workload.txt");
        Console.Out.WriteLine($"WORKLOAD OK {back.Length}");
        Console.Out.Flush();
        return 0;
    }

    private static long Spin(int seed)
    {
        long x = seed;
        for (int i = 0; i < 100_000; i++)
        {
            x = (x * 31) + i;
        }

        return x & 1;
    }
}
