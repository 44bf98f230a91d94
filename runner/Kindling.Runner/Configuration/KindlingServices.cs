using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Configuration;

/// <summary>Registration of the validated <see cref="KindlingOptions"/>.</summary>
public static class KindlingServices
{
    /// <summary>The state directory when none is configured: $KINDLING_STATE, else ~/.local/share/kindling.</summary>
    public static string DefaultStateDirectory() =>
        Environment.GetEnvironmentVariable("KINDLING_STATE") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "kindling");

    public static void AddKindlingOptions(IServiceCollection services, IConfiguration config)
    {
        services.TryAddSingleton(CredentialSources.System);
        services.AddOptions<KindlingOptions>()
            .Configure(o => ConfigurationSchema.Bind(config, o))
            .PostConfigure(o =>
            {
                if (string.IsNullOrWhiteSpace(o.StateDirectory))
                {
                    o.StateDirectory = DefaultStateDirectory();
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<KindlingOptions>>(sp => new KindlingOptionsValidator(config, sp.GetRequiredService<CredentialSources>()));
    }
}
