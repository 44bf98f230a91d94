using System.Net;
using Kindling.Images.ActionsRunner;

namespace Kindling.Images.Tests.ActionsRunner;

public sealed class ActionsRunnerFetcherTests : IAsyncDisposable
{
    private const string Version = "2.999.0";

    private readonly TempCache _cache = new();
    private readonly HttpClient _http = new();
    private readonly byte[] _tarball = TestRunnerTarball.Build();
    private readonly RunnerTarballServer _server;

    public ActionsRunnerFetcherTests() => _server = new RunnerTarballServer(_tarball);

    private string CacheDir => Path.Combine(_cache.Path, ActionsRunnerFetcher.CacheDirName);

    private ActionsRunnerFetcher Fetcher(int maxAttempts = 5) => new(_cache.Path, _http) { MaxAttempts = maxAttempts, RetryDelay = TimeSpan.Zero };

    private ActionsRunnerSource Source(string? sha = null) => new(Version, sha ?? TestRunnerTarball.Sha256(_tarball), Url: _server.UrlPattern);

    [Fact]
    public async Task EnsureAsync_RightHash_CachedByVersionAndHashAndReturned()
    {
        ActionsRunnerTarball result = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);

        Assert.Equal(_tarball, await File.ReadAllBytesAsync(result.Path, TestContext.Current.CancellationToken));
        Assert.Equal(Path.Combine(CacheDir, $"actions-runner-linux-x64-{Version}-{TestRunnerTarball.Sha256(_tarball)[..16]}.tar.gz"), result.Path);
        Assert.Equal(TestRunnerTarball.Sha256(_tarball), result.Sha256);
        Assert.Equal(_tarball.Length, result.Length);
        Assert.Equal([result.Path], Directory.GetFileSystemEntries(CacheDir));
        (string path, string? range) = Assert.Single(_server.Requests);
        Assert.Equal(RunnerTarballServer.Path.Replace("2.999.0", Version, StringComparison.Ordinal), path);
        Assert.Null(range);
    }

    [Fact]
    public async Task EnsureAsync_WrongHash_RefusedNamingBothHashesAndKeyNothingCached()
    {
        string wrong = new('a', 64);

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => Fetcher().EnsureAsync(Source(wrong), ct: TestContext.Current.CancellationToken));

        Assert.Contains(wrong, e.Message, StringComparison.Ordinal);
        Assert.Contains(TestRunnerTarball.Sha256(_tarball), e.Message, StringComparison.Ordinal);
        Assert.Contains("Kindling:Images:ActionsRunner:Sha256", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_ConnectionCutMidDownload_ResumedWithRangeAndCorrect()
    {
        _server.CutsLeft = 1;
        _server.CutAtOffset = _tarball.Length / 2;

        ActionsRunnerTarball result = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);

        Assert.Equal(_tarball, await File.ReadAllBytesAsync(result.Path, TestContext.Current.CancellationToken));
        (string, string? Range)[] requests = [.. _server.Requests];
        Assert.Equal(2, requests.Length);
        Assert.Null(requests[0].Range);
        Assert.Equal($"bytes={_tarball.Length / 2}-", requests[1].Range);
        Assert.Equal([result.Path], Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_CutTwice_ResumesFromWhereEachTryStopped()
    {
        _server.CutsLeft = 2;
        _server.CutAtOffset = _tarball.Length / 3;

        ActionsRunnerTarball result = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);

        Assert.Equal(_tarball, await File.ReadAllBytesAsync(result.Path, TestContext.Current.CancellationToken));
        string?[] ranges = [.. _server.Requests.Select(r => r.Range)];
        Assert.Equal(3, ranges.Length);
        Assert.Equal($"bytes={_tarball.Length / 3}-", ranges[1]);
        Assert.Equal($"bytes={_tarball.Length / 3 + 4096}-", ranges[2]); // the second cut came one buffer after it began
    }

    [Fact]
    public async Task EnsureAsync_ConnectionCut_WaitsTheRetryDelayOnTheInjectedClockBeforeResuming()
    {
        Kindling.Testing.FakeTimeProvider time = new();
        _server.CutsLeft = 1;
        _server.CutAtOffset = _tarball.Length / 2;
        ActionsRunnerFetcher fetcher = new(_cache.Path, _http, time) { RetryDelay = TimeSpan.FromSeconds(30) };

        Task<ActionsRunnerTarball> fetch = fetcher.EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Single(_server.Requests); // no second try before the delay has passed
        Assert.False(fetch.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(30));
        ActionsRunnerTarball result = await fetch;
        Assert.Equal(_tarball, await File.ReadAllBytesAsync(result.Path, TestContext.Current.CancellationToken));
        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task EnsureAsync_ServerIgnoresRange_RestartsCleanlyFromTheStart()
    {
        _server.IgnoreRange = true;
        _server.CutsLeft = 1;
        _server.CutAtOffset = _tarball.Length / 2;

        ActionsRunnerTarball result = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);

        // A 200 after a Range request must replace the partial file, not be appended to it (the hash would catch that).
        Assert.Equal(_tarball, await File.ReadAllBytesAsync(result.Path, TestContext.Current.CancellationToken));
        Assert.Equal($"bytes={_tarball.Length / 2}-", _server.Requests.Last().Range);
        Assert.Equal([result.Path], Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_EveryTryCut_FailsNamingUrlAndFileKeyNothingLeft()
    {
        _server.CutsLeft = int.MaxValue;
        _server.CutAtOffset = 0;

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => Fetcher(maxAttempts: 3).EnsureAsync(Source(), ct: TestContext.Current.CancellationToken));

        Assert.Contains("after 3 attempts", e.Message, StringComparison.Ordinal);
        Assert.Contains(_server.Url.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains("Kindling:Images:ActionsRunner:File", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, _server.Requests.Count);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_NotFound_RefusedAtOnceNamingTheVersionKey()
    {
        _server.FixedStatus = HttpStatusCode.NotFound;

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken));

        Assert.Contains("HTTP 404", e.Message, StringComparison.Ordinal);
        Assert.Contains("Kindling:Images:ActionsRunner:Version", e.Message, StringComparison.Ordinal);
        Assert.Single(_server.Requests); // a 404 is not retried
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_ServerError_Retried()
    {
        _server.FixedStatus = HttpStatusCode.ServiceUnavailable;

        await Assert.ThrowsAsync<ImageBuildException>(() => Fetcher(maxAttempts: 2).EnsureAsync(Source(), ct: TestContext.Current.CancellationToken));

        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task EnsureAsync_NotARunnerTarball_RefusedNamingMissingEntriesNothingCached()
    {
        byte[] other = TestRunnerTarball.Build(runner: false);
        _server.Content = other;

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => Fetcher().EnsureAsync(Source(TestRunnerTarball.Sha256(other)), ct: TestContext.Current.CancellationToken));

        Assert.Contains("not an actions/runner release", e.Message, StringComparison.Ordinal);
        Assert.Contains("run.sh", e.Message, StringComparison.Ordinal);
        Assert.Contains("bin/Runner.Listener", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_NotGzip_RefusedNothingCached()
    {
        byte[] html = "<html>not a tarball</html>"u8.ToArray();
        _server.Content = html;

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() => Fetcher().EnsureAsync(Source(TestRunnerTarball.Sha256(html)), ct: TestContext.Current.CancellationToken));

        Assert.Contains("not a .tar.gz", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_SecondCall_HitsTheCacheWithoutARequest()
    {
        ActionsRunnerTarball first = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);
        ActionsRunnerTarball second = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);

        Assert.Equal(first, second);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task EnsureAsync_CachedFileCorrupted_FetchedAgain()
    {
        ActionsRunnerTarball first = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);
        await File.WriteAllBytesAsync(first.Path, [1, 2, 3], TestContext.Current.CancellationToken);

        ActionsRunnerTarball second = await Fetcher().EnsureAsync(Source(), ct: TestContext.Current.CancellationToken);

        Assert.Equal(_tarball, await File.ReadAllBytesAsync(second.Path, TestContext.Current.CancellationToken));
        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task EnsureAsync_FileSource_HashedAndCachedWithoutARequest()
    {
        string file = Path.Combine(_cache.Path, "runner.tar.gz");
        await File.WriteAllBytesAsync(file, _tarball, TestContext.Current.CancellationToken);

        ActionsRunnerTarball result = await Fetcher().EnsureAsync(new ActionsRunnerSource(Version, TestRunnerTarball.Sha256(_tarball), File: file), ct: TestContext.Current.CancellationToken);

        Assert.Equal(_tarball, await File.ReadAllBytesAsync(result.Path, TestContext.Current.CancellationToken));
        Assert.StartsWith(CacheDir, result.Path, StringComparison.Ordinal);
        Assert.True(File.Exists(file)); // the operator's file is copied, not moved
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task EnsureAsync_FileSourceWrongHash_RefusedNothingCached()
    {
        string file = Path.Combine(_cache.Path, "runner.tar.gz");
        await File.WriteAllBytesAsync(file, _tarball, TestContext.Current.CancellationToken);

        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() =>
            Fetcher().EnsureAsync(new ActionsRunnerSource(Version, new string('b', 64), File: file), ct: TestContext.Current.CancellationToken));

        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.Contains("Kindling:Images:ActionsRunner:Sha256", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_Download_ReportsProgressUpToDone()
    {
        List<ImageProgress> reports = [];
        _server.Content = TestRunnerTarball.Build(fillerBytes: 2 << 20);

        await Fetcher().EnsureAsync(Source(TestRunnerTarball.Sha256(_server.Content)), new ListProgress(reports), TestContext.Current.CancellationToken);

        double[] fractions = [.. reports.Where(r => r.Fraction is not null).Select(r => r.Fraction!.Value)];
        Assert.True(fractions.Length > 3, $"only {fractions.Length} progress reports with a fraction");
        Assert.Equal(fractions.Order(), fractions);
        Assert.Equal(1.0, fractions[^1]);
        Assert.All(reports, r => Assert.Equal(ActionsRunnerFetcher.Stage, r.Stage));
    }

    [Fact]
    public async Task EnsureAsync_CancelledMidDownload_CancelledAndNothingLeft()
    {
        _server.Content = TestRunnerTarball.Build(fillerBytes: 2 << 20);
        using CancellationTokenSource cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        CancelOnFirstBytes progress = new(cts);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Fetcher().EnsureAsync(Source(TestRunnerTarball.Sha256(_server.Content)), progress, cts.Token));

        Assert.Single(_server.Requests); // cancelling is not a cut connection: no retry
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
    }

    [Fact]
    public async Task EnsureAsync_NoVersionOrHash_RefusedNamingKeysWithoutARequest()
    {
        ImageBuildException e = await Assert.ThrowsAsync<ImageBuildException>(() =>
            Fetcher().EnsureAsync(new ActionsRunnerSource("", "", Url: _server.UrlPattern), ct: TestContext.Current.CancellationToken));

        Assert.Contains("Kindling:Images:ActionsRunner:Version", e.Message, StringComparison.Ordinal);
        Assert.Contains("Kindling:Images:ActionsRunner:Sha256", e.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Requests);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
        _cache.Dispose();
    }

    private sealed class CancelOnFirstBytes(CancellationTokenSource cts) : IProgress<ImageProgress>
    {
        public void Report(ImageProgress value)
        {
            if (value.Fraction is > 0 and < 1)
            {
                cts.Cancel();
            }
        }
    }

    /// <summary>Collects reports synchronously (Progress&lt;T&gt; posts them to the thread pool, out of order).</summary>
    private sealed class ListProgress(List<ImageProgress> into) : IProgress<ImageProgress>
    {
        public void Report(ImageProgress value)
        {
            lock (into)
            {
                into.Add(value);
            }
        }
    }
}
