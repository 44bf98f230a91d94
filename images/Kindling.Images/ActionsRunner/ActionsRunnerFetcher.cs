using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Kindling.Images.Cache;

namespace Kindling.Images.ActionsRunner;

/// <summary>
/// Gets the actions/runner release tarball into the image cache (<c>actions-runner/</c>), once per version and hash:
/// downloaded with <see cref="HttpClient"/> (progress reported, a cut connection resumed with an HTTP Range request,
/// restarted from the start when the server ignores Range) or copied from a local file; its SHA-256 is checked and
/// its layout (<c>run.sh</c>, <c>bin/Runner.Listener</c>) verified before it is renamed into place, so a wrong or
/// partial download is never cached.
/// </summary>
public sealed class ActionsRunnerFetcher(string cacheRoot, HttpClient http, TimeProvider? time = null)
{
    public const string CacheDirName = "actions-runner";
    public const string Stage = "actions-runner";
    private const int BufferSize = 1 << 16;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>How many times a download is tried before it fails (each try resumes where the last stopped).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The wait before the second try; doubled for each further one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The cache path of <paramref name="source"/>'s tarball (named by version and hash).</summary>
    public string CachePath(ActionsRunnerSource source) =>
        Path.Combine(cacheRoot, CacheDirName, $"actions-runner-linux-x64-{source.Version}-{source.NormalizedSha256[..16]}.tar.gz");

    /// <summary>
    /// The verified tarball of <paramref name="source"/>: from the cache when it is there and intact, otherwise
    /// fetched, checked and cached. Throws <see cref="ImageBuildException"/> naming the setting at fault.
    /// </summary>
    public async Task<ActionsRunnerTarball> EnsureAsync(ActionsRunnerSource source, IProgress<ImageProgress>? progress = null, CancellationToken ct = default)
    {
        if (source.Problems() is { Count: > 0 } problems)
        {
            throw new ImageBuildException(string.Join("; ", problems));
        }

        string expected = source.NormalizedSha256;
        string dir = Directory.CreateDirectory(Path.Combine(cacheRoot, CacheDirName)).FullName;
        TempDirectory.SweepStale(dir);
        string final = CachePath(source);
        if (File.Exists(final))
        {
            if (await HashAsync(final, ct) == expected)
            {
                progress?.Report(new ImageProgress(Stage, $"actions/runner {source.Version} is cached", 1));
                return new ActionsRunnerTarball(final, source.Version, expected, new FileInfo(final).Length);
            }

            File.Delete(final); // corrupted on disk since it was cached: fetch it again
        }

        string tmp = Path.Combine(dir, $"{TempDirectory.NewName()}-{Path.GetFileName(final)}");
        try
        {
            string origin;
            if (source.File is { Length: > 0 } file)
            {
                origin = file;
                progress?.Report(new ImageProgress(Stage, $"copying {file}", 0));
                File.Copy(file, tmp);
            }
            else
            {
                Uri uri = source.DownloadUri!;
                origin = uri.ToString();
                await DownloadAsync(uri, tmp, source, progress, ct);
            }

            progress?.Report(new ImageProgress(Stage, "checking SHA-256", null));
            string actual = await HashAsync(tmp, ct);
            if (actual != expected)
            {
                throw new ImageBuildException(
                    $"{origin}: SHA-256 mismatch for actions/runner {source.Version}: expected {expected} ({ActionsRunnerSource.ConfigKey}:Sha256), got {actual}; " +
                    "nothing was cached. Check that Version and Sha256 belong to the same release (the release notes list the hash of actions-runner-linux-x64-<Version>.tar.gz)");
            }

            await CheckLayoutAsync(tmp, origin, ct);
            AtomicFile.Fsync(tmp);
            File.Move(tmp, final, overwrite: true);
            progress?.Report(new ImageProgress(Stage, $"actions/runner {source.Version} verified and cached", 1));
            return new ActionsRunnerTarball(final, source.Version, expected, new FileInfo(final).Length);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static async Task CheckLayoutAsync(string path, string origin, CancellationToken ct)
    {
        IReadOnlyList<string> missing;
        try
        {
            missing = await RunnerTarballLayout.MissingEntriesAsync(path, ct);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new ImageBuildException($"{origin}: is not a .tar.gz ({e.Message}); {ActionsRunnerSource.ConfigKey} must name the actions-runner-linux-x64-<Version>.tar.gz release", e);
        }

        if (missing.Count > 0)
        {
            throw new ImageBuildException(
                $"{origin}: is not an actions/runner release: it has no {string.Join(" and no ", missing)}; " +
                $"point {ActionsRunnerSource.ConfigKey} at actions-runner-linux-x64-<Version>.tar.gz from https://github.com/actions/runner/releases");
        }
    }

    private async Task DownloadAsync(Uri uri, string path, ActionsRunnerSource source, IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        long have = 0;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using HttpRequestMessage request = new(HttpMethod.Get, uri);
                if (have > 0)
                {
                    request.Headers.Range = new RangeHeaderValue(have, null);
                }

                using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                long? total;
                bool resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent
                    && response.Content.Headers.ContentRange is { From: { } from } && from == have;
                if (resumed)
                {
                    total = response.Content.Headers.ContentRange!.Length;
                }
                else if (!response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.PartialContent)
                {
                    if (have > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                    {
                        File.Delete(path); // the server has less than we kept: start over
                    }

                    if (Transient(response.StatusCode) || response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                    {
                        throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
                    }

                    throw new ImageBuildException(
                        $"{uri}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}; check {ActionsRunnerSource.ConfigKey}:Version ('{source.Version}') and Url, " +
                        $"or download the tarball on a host with internet and set {ActionsRunnerSource.ConfigKey}:File");
                }
                else
                {
                    have = 0; // a full answer (the server ignored Range, or this is the first try): restart the file
                    total = response.Content.Headers.ContentLength;
                }

                progress?.Report(new ImageProgress(Stage, Describe(uri, have, total, resumed ? $"resuming at {Mib(have)}" : null), Fraction(have, total)));
                await using (FileStream file = new(path, have > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous))
                await using (Stream body = await response.Content.ReadAsStreamAsync(ct))
                {
                    byte[] buffer = new byte[BufferSize];
                    long reported = have;
                    int n;
                    while ((n = await body.ReadAsync(buffer, ct)) > 0)
                    {
                        await file.WriteAsync(buffer.AsMemory(0, n), ct);
                        have += n;
                        if (have - reported >= ReportEvery(total))
                        {
                            reported = have;
                            progress?.Report(new ImageProgress(Stage, Describe(uri, have, total, null), Fraction(have, total)));
                        }
                    }
                }

                if (total is { } t && have != t)
                {
                    throw new IOException($"the connection ended after {have} of {t} bytes");
                }

                progress?.Report(new ImageProgress(Stage, Describe(uri, have, total, "downloaded"), 1));
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                have = File.Exists(path) ? new FileInfo(path).Length : 0; // what actually reached the disk

                if (attempt >= MaxAttempts)
                {
                    throw new ImageBuildException(
                        $"{uri}: download failed after {attempt} attempts ({e.Message}); check the network, " +
                        $"or download the tarball on a host with internet and set {ActionsRunnerSource.ConfigKey}:File", e);
                }

                TimeSpan delay = RetryDelay * Math.Pow(2, attempt - 1);
                progress?.Report(new ImageProgress(Stage, $"download interrupted ({e.Message}); retry {attempt + 1}/{MaxAttempts} in {delay.TotalSeconds:0.#} s{(have > 0 ? $", resuming at {Mib(have)}" : "")}", Fraction(have, null)));
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, ct);
                }
            }
        }
    }

    private static bool Transient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    private static long ReportEvery(long? total) => total is { } t ? Math.Max(t / 100, BufferSize) : 1 << 20;

    private static double? Fraction(long have, long? total) => total is > 0 ? Math.Min(1.0, (double)have / total.Value) : null;

    private static string Describe(Uri uri, long have, long? total, string? note) =>
        $"{Path.GetFileName(uri.AbsolutePath)}: {Mib(have)}{(total is { } t ? $" of {Mib(t)}" : "")}{(note is null ? "" : $" ({note})")}";

    private static string Mib(long bytes) => $"{bytes / 1048576.0:0.0} MiB";

    private static async Task<string> HashAsync(string path, CancellationToken ct)
    {
        await using FileStream f = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(f, ct));
    }
}
