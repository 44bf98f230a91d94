using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Cli;

/// <summary>Builds the Generic Host (ASP.NET Core) the daemon and the demo run in.</summary>
public static class RunnerHost
{
    /// <summary>Where <c>kindling daemon</c> looks for its config when --config is not given.</summary>
    public static readonly string[] DefaultConfigPaths = ["/etc/kindling/kindling.json", "config/kindling.json"];

    public static WebApplication Build(IEnumerable<KeyValuePair<string, string?>> defaults, string? configFile, bool runDaemon, Action<IServiceCollection>? extra = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(defaults);
        if (configFile is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        // KINDLING__HOST__VCPUS=4 → Kindling:Host:Vcpus (keys are case-insensitive).
        foreach ((string key, string? value) in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                     .Select(e => ((string)e.Key, (string?)e.Value)).Where(e => e.Item1.StartsWith("KINDLING__", StringComparison.Ordinal)))
        {
            builder.Configuration["Kindling:" + key["KINDLING__".Length..].Replace("__", ":", StringComparison.Ordinal)] = value;
        }

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        extra?.Invoke(builder.Services);
        builder.Services.AddKindlingRunner(builder.Configuration);
        if (runDaemon)
        {
            builder.Services.AddHostedService<DaemonService>();
        }

        string url = builder.Configuration["Kindling:Web:Url"] ?? new WebOptions().Url;
        builder.WebHost.UseUrls(url);
        WebApplication app = builder.Build();
        app.MapRunnerEndpoints();
        app.MapReplayEndpoints();
        return app;
    }

    public static KindlingOptions Options(WebApplication app) => app.Services.GetRequiredService<IOptions<KindlingOptions>>().Value;
}
