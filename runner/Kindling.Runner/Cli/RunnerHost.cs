using Kindling.Runner.Composition;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Scheduling;
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
        AddConfiguration(builder.Configuration, defaults, configFile);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        // Keys are kept unencrypted in the state directory (root-only); saying so on every start is noise.
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);
        extra?.Invoke(builder.Services);
        ConfigureServices(builder.Services, builder.Configuration, runDaemon);

        string url = builder.Configuration["Kindling:Web:Url"] ?? new WebOptions().Url;
        builder.WebHost.UseUrls(url);
        WebApplication app = builder.Build();
        app.UseKindlingWeb();
        return app;
    }

    /// <summary>Defaults, then the config file, then <c>KINDLING__*</c> environment variables.</summary>
    public static void AddConfiguration(IConfigurationBuilder config, IEnumerable<KeyValuePair<string, string?>> defaults, string? configFile)
    {
        config.AddInMemoryCollection(defaults);
        if (configFile is not null)
        {
            config.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        // KINDLING__HOST__VCPUS=4 → Kindling:Host:Vcpus (keys are case-insensitive).
        Dictionary<string, string?> env = [];
        foreach ((string key, string? value) in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                     .Select(e => ((string)e.Key, (string?)e.Value)).Where(e => e.Item1.StartsWith("KINDLING__", StringComparison.Ordinal)))
        {
            env["Kindling:" + key["KINDLING__".Length..].Replace("__", ":", StringComparison.Ordinal)] = value;
        }

        config.AddInMemoryCollection(env);
    }

    /// <summary>The runner's services and the admin web's; the daemon loop only when <paramref name="runDaemon"/>.</summary>
    public static void ConfigureServices(IServiceCollection services, IConfiguration configuration, bool runDaemon)
    {
        services.AddKindlingRunner(configuration);
        services.AddKindlingWeb();
        if (runDaemon)
        {
            services.AddHostedService<DaemonService>();
        }
    }

    public static KindlingOptions Options(WebApplication app) => app.Services.GetRequiredService<IOptions<KindlingOptions>>().Value;
}
