using System.Diagnostics.Metrics;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.GitHub;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Kindling.Runner.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Composition;

/// <summary>The runner's services, shared by <c>kindling daemon</c>, <c>kindling demo</c>, tests and benchmarks.</summary>
public static partial class RunnerComposition
{
    public const string GitHubHttpClient = "github";

    /// <summary>
    /// Registers everything. Pre-registered <see cref="IImageProvider"/>, <see cref="IVmLauncher"/>,
    /// <see cref="ITapManager"/>, <see cref="TimeProvider"/> or <see cref="IForge"/>s win (TryAdd), so callers can
    /// substitute them.
    /// </summary>
    public static IServiceCollection AddKindlingRunner(this IServiceCollection services, IConfiguration config)
    {
        KindlingServices.AddKindlingOptions(services, config);
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton(sp => new KindlingMetrics(sp.GetService<IMeterFactory>()));
        services.AddHttpClient(GitHubHttpClient, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.TryAddSingleton(sp =>
        {
            KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
            StoreDialect dialect = o.Store.IsPostgres
                ? new PostgresDialect(sp.GetRequiredService<CredentialSources>().Variable(o.Store.ConnectionStringEnv)
                    ?? throw new InvalidOperationException($"Kindling:Store:ConnectionStringEnv: {o.Store.ConnectionStringEnv} is no longer set (validated at start)"))
                : new SqliteDialect(Path.Combine(o.StateDirectory, "kindling.db"));
            return new JobStore(dialect, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<IImageProvider>(sp =>
        {
            KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
            return o.Launcher.ImagesDirectory is { Length: > 0 } dir ? new DirectoryImageProvider(dir)
                : o.Launcher.Kind == "stub" ? new PlaceholderImageProvider(Path.Combine(o.StateDirectory, "images"))
                : ImageStoreProvider.ForStateDirectory(o.StateDirectory, o.Images.BaseFlavour(o.Tenants), host: () => KvmHost.Probe(VmmLauncher.Locate(o.Launcher.VmmPath)),
                    guestKernel: o.Launcher.GuestKernel, actionsRunner: o.Images.ActionsRunner.IsConfigured ? o.Images.ActionsRunner.ToSource() : null);
        });
        services.TryAddSingleton<IVmLauncher>(sp =>
        {
            KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
            if (o.Launcher.Kind == "stub")
            {
                // The stub runs a job's steps on this host, unsandboxed: say so wherever it is configured.
                if (sp.GetService<ILoggerFactory>() is { } loggers)
                {
                    LogStubLauncher(loggers.CreateLogger<StubVmLauncher>());
                }

                return Warm(sp, o, new StubVmLauncher(o.Launcher.StubJobDuration, o.Launcher.StubBootDelay));
            }

            return Warm(sp, o, new VmmLauncher(VmmLauncher.Locate(o.Launcher.VmmPath), o.Launcher.Jail, sp.GetService<Microsoft.Extensions.Logging.ILogger<VmmLauncher>>()));
        });
        services.TryAddSingleton<ITapManager>(sp =>
        {
            KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
            // A jailed VMM attaches to its TAP as the jail's user (the launcher decides whether it jails).
            bool jailed = Launch.Snapshots.WarmStarts.Unwrap(sp.GetRequiredService<IVmLauncher>()) is VmmLauncher { Jailed: true };
            return o.Launcher.Network ? new IpTapManager(jailed ? o.Launcher.Jail.Uid : null, o.StateDirectory) : new NoTapManager();
        });
        services.TryAddSingleton<Network.IGuestNetworkService>(sp =>
        {
            KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
            return o.Launcher.Network
                ? new Network.GuestNetworkService(o.Network, o.Tenants.Select(t => KeyValuePair.Create(t.Name, t.Egress)), Network.NetworkHost.Root, sp.GetService<ILogger<Network.GuestNetworkService>>())
                : new Network.DisabledGuestNetworkService();
        });
        services.TryAddSingleton(sp => new ForgeRegistry(CreateForges(sp)));
        services.TryAddSingleton<Launch.Snapshots.WarmPool>();
        services.TryAddSingleton<JobTeardown>();
        services.TryAddSingleton<JobRunner>();
        services.TryAddSingleton<JobReaper>();
        services.TryAddSingleton<JobCancellations>();
        services.TryAddSingleton<JobActions>();
        services.TryAddSingleton<HostDrain>();
        services.TryAddSingleton<FleetHealth>();
        services.TryAddSingleton<FleetMembership>();
        services.TryAddSingleton<JobDispatcher>();
        return services;
    }

    private static List<IForge> CreateForges(IServiceProvider sp)
    {
        KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
        List<IForge> forges = [.. sp.GetServices<IForge>()];
        var http = sp.GetRequiredService<IHttpClientFactory>();
        var time = sp.GetRequiredService<TimeProvider>();
        var loggers = sp.GetRequiredService<ILoggerFactory>();
        var credentials = sp.GetRequiredService<CredentialSources>();
        foreach (TenantOptions t in o.Tenants.Where(t => forges.All(f => f.Tenant != t.Name)))
        {
            if (t.Forge.Kind == "local")
            {
                forges.Add(new LocalForge(t.Name));
                continue;
            }

            HttpClient client = http.CreateClient(GitHubHttpClient);
#pragma warning disable CA2000 // the App key lives as long as the forge: its token source signs with it until shutdown
            IGitHubTokenSource tokens = t.Credentials.AppId is { } appId
                ? new AppInstallationTokenSource(client, GitHubClient.BaseUri(o.Forge.GitHub.BaseUrl), appId, t.Credentials.InstallationId!.Value,
                    AppInstallationTokenSource.LoadKey(t.Credentials.PrivateKeyPath!), time)
                : new PatTokenSource(credentials.ResolvePat(t.Credentials).Token
                    ?? throw new InvalidOperationException($"Kindling:Tenants:{o.Tenants.IndexOf(t)}:Credentials: the token is no longer available (validated at start)"));
#pragma warning restore CA2000
            forges.Add(new GitHubForge(t, new GitHubClient(client, o.Forge.GitHub, tokens, time, loggers.CreateLogger<GitHubClient>()),
                loggers.CreateLogger<GitHubForge>()));
        }

        return forges;
    }

    /// <summary>
    /// The launcher behind warm starts when they are on (Launcher:Snapshots): golden snapshots under
    /// STATE/images/snapshots, golden boots with a TAP of their own when jobs have one.
    /// </summary>
    private static IVmLauncher Warm<T>(IServiceProvider sp, KindlingOptions o, T launcher) where T : IVmLauncher, Launch.Snapshots.ISnapshotLauncher
    {
        if (!o.Launcher.SnapshotsEnabled)
        {
            return launcher;
        }

        TimeProvider time = sp.GetService<TimeProvider>() ?? TimeProvider.System;
        var store = new Launch.Snapshots.SnapshotStore(Path.Combine(o.StateDirectory, "images", "snapshots"), time);
        bool jailed = launcher is VmmLauncher { Jailed: true };
        ITapManager taps = o.Launcher.Network ? new IpTapManager(jailed ? o.Launcher.Jail.Uid : null, o.StateDirectory) : new NoTapManager();
#pragma warning disable CA2000 // the golden snapshot taker lives as long as the launcher singleton
        var golden = new Launch.Snapshots.GoldenSnapshot(launcher, launcher, store, sp.GetRequiredService<IImageProvider>(), taps, o.Launcher.SnapshotBootTimeout);
#pragma warning restore CA2000
        return new Launch.Snapshots.WarmStarts(launcher, launcher, store, golden, time,
            sp.GetService<ILoggerFactory>()?.CreateLogger<Launch.Snapshots.WarmStarts>() ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<Launch.Snapshots.WarmStarts>.Instance);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Launcher:Kind is stub: jobs run without a VM, their steps on this host as this user, unsandboxed; use it only for tests and benchmarks, never for untrusted jobs")]
    private static partial void LogStubLauncher(ILogger logger);
}
