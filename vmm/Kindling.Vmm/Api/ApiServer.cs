using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using Kindling.Vmm.Api.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Api;

/// <summary>
/// Firecracker's REST API on a Unix socket, served by a small HTTP/1.1 server of our own (as Firecracker's
/// micro_http): each request is parsed by <see cref="ApiRequestParser"/> into a <see cref="VmmAction"/>, sent to the
/// VMM loop through <see cref="VmmActionChannel"/>, and the outcome becomes 204 / 200 + JSON / 4xx or 5xx +
/// <c>{"fault_message": ...}</c>. Every answer, the server's own refusals included, is well-formed HTTP with a
/// fault_message on error; no request can end the server. This thread never touches VMM state.
/// </summary>
public sealed partial class ApiServer : IAsyncDisposable
{
    /// <summary>Largest accepted request body (the MMDS store is bounded far below this).</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    private const int Backlog = 128;
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly Socket _listener;
    private readonly VmmActionChannel _channel;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private Task _acceptLoop = Task.CompletedTask;

    private ApiServer(Socket listener, string socketPath, VmmActionChannel channel, ILogger logger)
    {
        _listener = listener;
        SocketPath = socketPath;
        _channel = channel;
        _logger = logger;
    }

    public string SocketPath { get; }

    /// <summary>
    /// Binds <paramref name="socketPath"/> and starts serving. A stale socket file (nobody listening) is replaced; a
    /// live one is left alone and refused with an <see cref="IOException"/> ("... is in use by another process").
    /// </summary>
    public static Task<ApiServer> StartAsync(string socketPath, VmmActionChannel channel, ILoggerProvider? logger, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ApiSocketPath.Claim(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            listener.Listen(Backlog);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"{socketPath}: cannot listen on the API socket: {e.Message}", e);
        }

        ILogger log = logger?.CreateLogger(typeof(ApiServer).FullName!) ?? NullLogger.Instance;
        var server = new ApiServer(listener, socketPath, channel, log);
        server._acceptLoop = Task.Run(server.AcceptLoopAsync, CancellationToken.None);
        return Task.FromResult(server);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        _listener.Dispose();
        await _acceptLoop;
        foreach (Socket connection in _connections.Keys)
        {
            connection.Dispose();
        }

        await Task.WhenAll(_connections.Values);
        _stop.Dispose();
        ApiSocketPath.Release(SocketPath);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of descriptors or a connection reset before accept: keep serving the others.
                LogAcceptFailed(_logger, e.SocketErrorCode.ToString(), e.Message);
                try
                {
                    await Task.Delay(AcceptRetryDelay, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            _connections[client] = Task.Run(() => ServeConnectionAsync(client), CancellationToken.None);
        }
    }

    private async Task ServeConnectionAsync(Socket client)
    {
        CancellationToken ct = _stop.Token;
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            PipeReader input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            var reader = new HttpRequestReader(input, MaxRequestBodyBytes);
            while (!ct.IsCancellationRequested)
            {
                ApiHttpRequest? request;
                try
                {
                    request = await reader.ReadAsync(c => stream.WriteAsync(ApiHttpResponse.Continue, c), ct);
                }
                catch (HttpRequestRefusedException e)
                {
                    LogRefused(_logger, e.StatusCode, e.Message);
                    await stream.WriteAsync(ApiHttpResponse.Fault(e.StatusCode, e.Message, close: true).Format(headRequest: false), ct);
                    return;
                }

                if (request is null)
                {
                    return;
                }

                ApiHttpResponse response = await AnswerAsync(request, ct);
                LogRequest(_logger, request.Method, request.Target, response.StatusCode);
                response = request.KeepAlive ? response : response with { Close = true };
                await stream.WriteAsync(response.Format(headRequest: request.Method == "HEAD"), ct);
                if (response.Close)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, or the server is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            LogConnectionFailed(_logger, e);
        }
        finally
        {
            _connections.TryRemove(client, out _);
        }
    }

    /// <summary>Routes one request to the VMM loop; every failure becomes an answer, never an exception.</summary>
    private async Task<ApiHttpResponse> AnswerAsync(ApiHttpRequest request, CancellationToken ct)
    {
        try
        {
            if (request.Method == "HEAD")
            {
                return ApiHttpResponse.Fault(HttpStatus.MethodNotAllowed, "HEAD is not supported by this API; use GET, PUT or PATCH") with { Allow = "GET, PUT, PATCH" };
            }

            ApiParseResult parsed = ApiRequestParser.Parse(request.Method, request.Target, request.Body);
            if (parsed.Action is null)
            {
                return ApiHttpResponse.Fault(HttpStatus.BadRequest, parsed.FaultMessage!);
            }

            VmmOutcome outcome = await _channel.SendAsync(parsed.Action, ct);
            return outcome switch
            {
                { IsSuccess: false, IsInternalError: true } => ApiHttpResponse.Fault(HttpStatus.InternalServerError, outcome.FaultMessage!),
                { IsSuccess: false } => ApiHttpResponse.Fault(HttpStatus.BadRequest, outcome.FaultMessage!),
                { Body: null } => ApiHttpResponse.NoContent,
                _ => ApiHttpResponse.Json(outcome.Body),
            };
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return ApiHttpResponse.Fault(HttpStatus.ServiceUnavailable, "the VMM is shutting down; the request was not applied", close: true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogInternalError(_logger, e, request.Method, request.Target);
            return ApiHttpResponse.Fault(HttpStatus.InternalServerError, $"internal error ({e.GetType().Name}): {e.Message}; the request was not applied");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "API: {Method} {Target} -> {Status}")]
    private static partial void LogRequest(ILogger logger, string method, string target, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "API: refused a request with {Status}: {Why}")]
    private static partial void LogRefused(ILogger logger, int status, string why);

    [LoggerMessage(Level = LogLevel.Error, Message = "API: {Method} {Target} failed unexpectedly; answered 500")]
    private static partial void LogInternalError(ILogger logger, Exception exception, string method, string target);

    [LoggerMessage(Level = LogLevel.Error, Message = "API: a connection failed unexpectedly")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API: accept failed ({Error}): {Why}")]
    private static partial void LogAcceptFailed(ILogger logger, string error, string why);
}
