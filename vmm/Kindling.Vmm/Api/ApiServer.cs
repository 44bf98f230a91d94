using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Api;

/// <summary>
/// Firecracker's REST API on a Unix socket (Kestrel). Each request is parsed by <see cref="ApiRequestParser"/> into a
/// <see cref="VmmAction"/>, sent to the VMM loop through <see cref="VmmActionChannel"/>, and the outcome becomes
/// 204 / 200 + JSON / 400 + <c>{"fault_message": ...}</c>. This thread never touches VMM state.
/// </summary>
public sealed class ApiServer : IAsyncDisposable
{
    /// <summary>Largest accepted request body (the MMDS store is bounded far below this).</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    private readonly WebApplication _app;
    private readonly string _socketPath;

    private ApiServer(WebApplication app, string socketPath)
    {
        _app = app;
        _socketPath = socketPath;
    }

    public string SocketPath => _socketPath;

    /// <summary>Binds <paramref name="socketPath"/> (a stale socket file is replaced) and starts serving.</summary>
    public static async Task<ApiServer> StartAsync(string socketPath, VmmActionChannel channel, ILoggerProvider? logger, CancellationToken cancellationToken)
    {
        if (File.Exists(socketPath))
        {
            File.Delete(socketPath);
        }

        // The empty builder: no appsettings/environment configuration (nothing to read, no inotify watches, no
        // getcwd for a content root: the jailed VMM's seccomp filter allows none of that), Kestrel and routing only.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddRoutingCore();
        if (logger is not null)
        {
            builder.Logging.AddProvider(logger);
        }

        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ListenUnixSocket(socketPath);
            k.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            k.AddServerHeader = false;
        });
        WebApplication app = builder.Build();
        app.Run(context => HandleAsync(context, channel));
        await app.StartAsync(cancellationToken);
        return new ApiServer(app, socketPath);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (File.Exists(_socketPath))
        {
            File.Delete(_socketPath);
        }
    }

    private static async Task HandleAsync(HttpContext context, VmmActionChannel channel)
    {
        CancellationToken ct = context.RequestAborted;
        string body;
        try
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(ct);
        }
        catch (BadHttpRequestException e)
        {
            await WriteFaultAsync(context, $"the request body cannot be read: {e.Message}", ct);
            return;
        }

        ApiParseResult parsed = ApiRequestParser.Parse(context.Request.Method, context.Request.Path.Value ?? "/", body);
        if (parsed.Action is null)
        {
            await WriteFaultAsync(context, parsed.FaultMessage!, ct);
            return;
        }

        VmmOutcome outcome = await channel.SendAsync(parsed.Action, ct);
        if (!outcome.IsSuccess)
        {
            await WriteFaultAsync(context, outcome.FaultMessage!, ct);
        }
        else if (outcome.Body is null)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }
        else
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(outcome.Body, ct);
        }
    }

    private static async Task WriteFaultAsync(HttpContext context, string message, CancellationToken ct)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new ApiFault { FaultMessage = message }, ApiJsonContext.Default.ApiFault), ct);
    }
}
