using System.Security.Cryptography;
using Kindling.Vmm.Memory;
using Kindling.Vmm.RateLimiting;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Devices.Virtio.Rng;

/// <summary>
/// virtio-rng (virtio 1.2 §5.4): fills every device-writable buffer of a request with bytes from the host's
/// CSPRNG. A chain with device-readable buffers is malformed (completed with 0 bytes). Optional rate limiter
/// (bytes and ops).
/// </summary>
public sealed class VirtioRng : VirtioDeviceBase, IDisposable
{
    public const ushort QueueSize = 256;

    /// <summary>At most this many bytes per request (Linux asks for far less).</summary>
    public const uint MaxRequestBytes = 64 * 1024;

    private readonly RateLimiter? _limiter;

    public VirtioRng(RateLimiter? limiter = null, IEventLoop? loop = null, ILogger? logger = null)
        : base(VirtioSpec.VIRTIO_ID_RNG, VirtioSpec.Bit(VirtioSpec.VIRTIO_F_INDIRECT_DESC) | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_EVENT_IDX), [QueueSize], loop, logger)
    {
        _limiter = limiter is { IsUnlimited: false } ? limiter : null;
        if (_limiter is not null)
        {
            _limiter.Unblocked += () => RunLocked(() => RunQueue(0));
        }
    }

    public override void ReadConfig(ulong offset, Span<byte> data)
    {
        // virtio-rng has no config space.
    }

    public void Dispose() => _limiter?.Dispose();

    protected override ChainOutcome HandleChain(int queueIndex, IGuestMemory memory, DescriptorChain chain, out uint usedLength)
    {
        usedLength = 0;
        if (chain.ReadableLength != 0)
        {
            Warnings.Warn("virtio-rng: request {Head} has device-readable buffers; failed", chain.Head);
            return ChainOutcome.Completed;
        }

        ulong wanted = Math.Min(chain.WritableLength, MaxRequestBytes);
        if (_limiter is not null)
        {
            if (!_limiter.Consume(1, TokenType.Ops))
            {
                return ChainOutcome.Deferred;
            }

            if (!_limiter.Consume((long)wanted, TokenType.Bytes))
            {
                _limiter.ManualReplenish(1, TokenType.Ops);
                return ChainOutcome.Deferred;
            }
        }

        ulong left = wanted;
        for (int i = 0; i < chain.Count && left > 0; i++)
        {
            int n = (int)Math.Min(chain[i].Length, left);
            RandomNumberGenerator.Fill(memory.GetSpan(chain[i].Address, n));
            left -= (ulong)n;
            usedLength += (uint)n;
        }

        return ChainOutcome.Completed;
    }
}
