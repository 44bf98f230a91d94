using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace Kindling.Vmm.Mmds;

/// <summary>
/// MMDS V2 session tokens: <c>base64url(expiry_ms ‖ nonce ‖ HMAC-SHA256(key, expiry_ms ‖ nonce))</c> with a random
/// per-VM key. Authenticated (the guest cannot forge or extend one), expiring (the clock is injected) and
/// unguessable (128-bit nonce, 256-bit MAC).
/// </summary>
public sealed class MmdsTokenAuthority
{
    public const int MinTtlSeconds = 1;

    /// <summary>Six hours, as Firecracker and EC2 IMDS.</summary>
    public const int MaxTtlSeconds = 21600;

    private const int ExpiryBytes = sizeof(long);
    private const int NonceBytes = 16;
    private const int MacBytes = HMACSHA256.HashSizeInBytes;
    private const int TokenBytes = ExpiryBytes + NonceBytes + MacBytes;
    private const int MaxTokenChars = 128;

    // Made on first use: the first RandomNumberGenerator call loads OpenSSL, which a VM that never asks for a
    // token (and every VMM's start-up) should not pay for.
    private byte[]? _key;
    private readonly TimeProvider _time;

    public MmdsTokenAuthority(TimeProvider time) => _time = time;

    private byte[] Key => LazyInitializer.EnsureInitialized(ref _key, static () => RandomNumberGenerator.GetBytes(32));

    /// <summary>Issues a token valid for <paramref name="ttlSeconds"/>; throws <see cref="MmdsException"/> outside 1..21600.</summary>
    public string Generate(long ttlSeconds)
    {
        if (ttlSeconds is < MinTtlSeconds or > MaxTtlSeconds)
        {
            throw new MmdsException(
                $"Invalid time to live value provided for token: {ttlSeconds}. Please provide a value between {MinTtlSeconds} and {MaxTtlSeconds}.");
        }

        Span<byte> token = stackalloc byte[TokenBytes];
        long expiry = _time.GetUtcNow().ToUnixTimeMilliseconds() + (ttlSeconds * 1000);
        BinaryPrimitives.WriteInt64BigEndian(token, expiry);
        RandomNumberGenerator.Fill(token.Slice(ExpiryBytes, NonceBytes));
        HMACSHA256.HashData(Key, token[..(ExpiryBytes + NonceBytes)], token[(ExpiryBytes + NonceBytes)..]);
        return Base64Url.EncodeToString(token);
    }

    /// <summary>True for a token this authority issued that has not expired.</summary>
    public bool IsValid(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenChars)
        {
            return false;
        }

        // Validate before decoding: TryDecodeFromChars throws on characters outside the alphabet.
        if (!Base64Url.IsValid(token, out int decodedLength) || decodedLength != TokenBytes)
        {
            return false;
        }

        Span<byte> raw = stackalloc byte[TokenBytes];
        if (!Base64Url.TryDecodeFromChars(token, raw, out int written) || written != TokenBytes)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[MacBytes];
        HMACSHA256.HashData(Key, raw[..(ExpiryBytes + NonceBytes)], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, raw.Slice(ExpiryBytes + NonceBytes, MacBytes)))
        {
            return false;
        }

        long expiry = BinaryPrimitives.ReadInt64BigEndian(raw);
        return _time.GetUtcNow().ToUnixTimeMilliseconds() < expiry;
    }
}
