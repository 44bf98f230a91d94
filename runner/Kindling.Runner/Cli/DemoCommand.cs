using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace Kindling.Runner.Cli;

/// <summary>
/// <c>kindling demo</c>: embedded defaults (SQLite under the state directory, a local forge with a sample job,
/// the admin page on 127.0.0.1:8080 with a generated admin token it prints), images with a progress bar, the sample
/// job in a microVM, its log; <c>--keep-serving</c> keeps the admin page up afterwards until Ctrl+C.
/// Says plainly how far it got when this host cannot run it; never reports success it did not see.
/// </summary>
public static class DemoCommand
{
    public const string Tenant = "demo";

    public static Dictionary<string, string?> Defaults(string stateDirectory, string launcher) => new()
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Kindling:StateDirectory"] = stateDirectory,
        ["Kindling:Host:Vcpus"] = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Kindling:Host:MemoryMib"] = "2048",
        ["Kindling:Pools:0:Name"] = "demo", ["Kindling:Pools:0:Labels:0"] = "self-hosted", ["Kindling:Pools:0:Labels:1"] = "kindling",
        ["Kindling:Pools:0:Vcpus"] = "1", ["Kindling:Pools:0:MemoryMib"] = "256",
        ["Kindling:Tenants:0:Name"] = Tenant, ["Kindling:Tenants:0:Forge:Kind"] = "local",
        ["Kindling:Tenants:0:Secrets:DEMO_TOKEN:Value"] = "demo-secret-" + Guid.NewGuid().ToString("N")[..8],
        ["Kindling:JobTimeout"] = "00:30:00",
        ["Kindling:Launcher:Kind"] = launcher,
        ["Kindling:Launcher:Network"] = Environment.UserName == "root" ? "true" : "false",
        ["Kindling:Web:Url"] = "http://127.0.0.1:8080",
    };

    public static JobSpec SampleJob => new()
    {
        Name = "demo",
        Steps =
        [
            new StepSpec { Name = "Hello", Run = "echo hello from a Kindling microVM\nuname -a" },
            new StepSpec { Name = "Secret", Run = "echo \"the token is $DEMO_TOKEN (masked in the log)\"" },
        ],
    };

    /// <summary>
    /// The Debian packages the demo needs (image builds; Kindling's kernel build where the host's KVM emulates guest
    /// kernel code; TAP and jail tools when root), installed when root (see <see cref="HostSetup"/>).
    /// </summary>
    private static Task<string?> EnsureHostPackagesAsync(WebApplication app, CancellationToken ct)
    {
        if (app.Services.GetRequiredService<IImageProvider>() is not ImageStoreProvider images)
        {
            return Task.FromResult<string?>(null); // stub launcher or a directory of images: nothing is built here
        }

        IEnumerable<string> needed = [.. HostSetup.ForImages(Kindling.Images.Rootfs.Flavour.Minimal, images.BuildsKindlingKernel),
            .. Environment.IsPrivilegedProcess ? HostSetup.VmPackages : []];
        return HostSetup.ForThisHost(Console.Out).EnsureAsync("kindling demo", needed, ct);
    }

    public static Task<int> RunAsync(string stateDirectory, string launcher, CancellationToken ct, bool keepServing = false) =>
        RunAsync(stateDirectory, launcher, keepServing, overrides: null, extra: null, ct);

    /// <param name="overrides">Configuration over <see cref="Defaults"/> (tests: a free port, no TAP, no jail).</param>
    /// <param name="extra">Services registered before the runner's, which win (tests: images, a launcher).</param>
    internal static async Task<int> RunAsync(string stateDirectory, string launcher, bool keepServing,
        IReadOnlyDictionary<string, string?>? overrides, Action<IServiceCollection>? extra, CancellationToken ct)
    {
        Directory.CreateDirectory(stateDirectory);
        AnsiConsole.MarkupLine($"[bold]kindling demo[/]: state in [blue]{Markup.Escape(stateDirectory)}[/]");
        Dictionary<string, string?> settings = Defaults(stateDirectory, launcher);
        foreach ((string key, string? value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        WebApplication app = RunnerHost.Build(settings, configFile: null, runDaemon: false, extra);
        if (await EnsureHostPackagesAsync(app, ct) is { } setup)
        {
            AnsiConsole.MarkupLine($"[red]kindling demo[/]: {Markup.Escape(setup)}");
            return 2;
        }

        try
        {
            await app.StartAsync(ct);
        }
        catch (IOException e)
        {
            AnsiConsole.MarkupLine($"[red]cannot listen on {Markup.Escape(RunnerHost.Options(app).Web.Url)}[/]: {Markup.Escape(e.Message)}; stop what uses the port or set KINDLING__WEB__URL");
            return 2;
        }

        PrintAdminPage(app);
        string stage = "images";
        try
        {
            var images = app.Services.GetRequiredService<IImageProvider>();
            GuestImages? guest = null;
            await AnsiConsole.Progress().StartAsync(async ctx =>
            {
                ProgressTask task = ctx.AddTask("guest images", maxValue: 1.0);
                guest = await images.EnsureImagesAsync(new Progress<ImageProgress>(p =>
                {
                    task.Description = Markup.Escape(p.Stage);
                    task.Value = p.Fraction;
                }), ct);
                task.Value = 1.0;
            });
            if (guest?.SlowBootNote is { } slow)
            {
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(slow)}; the sample job will take several minutes[/]");
            }

            var forge = (LocalForge)app.Services.GetRequiredService<ForgeRegistry>().For(Tenant);
            var dispatcher = app.Services.GetRequiredService<JobDispatcher>();
            var store = app.Services.GetRequiredService<JobStore>();
            await app.Services.GetRequiredService<JobReaper>().ReapAfterRestartAsync(ct);
            string forgeJobId = forge.Submit(SampleJob, ["self-hosted", "kindling"], "demo/sample");
            stage = "queued";
            await dispatcher.PollAsync(ct);
            dispatcher.AdmitAndStart(ct);
            await dispatcher.WaitIdleAsync();
            if (store.FindByForgeJob("local", forgeJobId) is not { } job)
            {
                AnsiConsole.MarkupLine("[red]the sample job was never picked up from the local forge[/]: no job ran");
                return 1;
            }

            IReadOnlyList<JobTransition> history = store.Transitions(job.Id);
            JobTransition result = history.Last(t => t.To != JobState.Cleaned);
            stage = history.Where(t => JobLifecycle.IsActive(t.To)).Select(t => JobLifecycle.Name(t.To)).LastOrDefault() ?? "queued";
            if (job.LogPath is { } log && File.Exists(log))
            {
                AnsiConsole.Write(new Rule("job log"));
                AnsiConsole.WriteLine(await File.ReadAllTextAsync(log, ct));
            }

            foreach (JobTransition t in history)
            {
                AnsiConsole.MarkupLine($"  {t.At:HH:mm:ss.fff} {(t.From is { } f ? JobLifecycle.Name(f) : "-")} → [bold]{JobLifecycle.Name(t.To)}[/]: {Markup.Escape(t.Reason)}");
            }

            AnsiConsole.MarkupLine($"  job page: [blue]{Markup.Escape(RunnerHost.Options(app).Web.Url.TrimEnd('/'))}/jobs/{job.Id}[/]");
            if (result.To == JobState.Succeeded)
            {
                AnsiConsole.MarkupLine(launcher == "stub"
                    ? "[green]the sample job succeeded[/] [yellow](stub launcher: a simulated VM, no microVM ran)[/]"
                    : "[green]the sample job succeeded in a microVM[/]");
                await ServeUntilStoppedAsync(app, keepServing, ct);
                return 0;
            }

            AnsiConsole.MarkupLine($"[red]the job {JobLifecycle.Name(result.To)}[/] after reaching [bold]{stage}[/]: {Markup.Escape(result.Reason)}");
            if (KvmNote() is { } note)
            {
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(note)}; the job stopped at {stage}[/]");
            }

            await ServeUntilStoppedAsync(app, keepServing, ct);
            return 1;
        }
        catch (ImagesUnavailableException e)
        {
            AnsiConsole.MarkupLine($"[red]stopped at {stage}[/]: {Markup.Escape(e.Message)}");
            if (KvmNote() is { } note)
            {
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
            }

            return 1;
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }

    /// <summary>Where the admin page is and how to sign in (the demo's admin token is generated into the state directory).</summary>
    private static void PrintAdminPage(WebApplication app)
    {
        KindlingOptions o = RunnerHost.Options(app);
        var credentials = app.Services.GetRequiredService<Web.WebCredentials>();
        string url = o.Web.Url.TrimEnd('/') + "/";
        AnsiConsole.MarkupLine($"admin page: [blue]{Markup.Escape(url)}[/] (it serves while the job runs)");
        if (credentials.GeneratedTokenPath is { } path && credentials.AdminToken is { } token)
        {
            AnsiConsole.MarkupLine($"  sign in with User empty and the admin token as the password (kept in {Markup.Escape(path)}):");
            AnsiConsole.MarkupLine($"  [bold]{Markup.Escape(token)}[/]");
            AnsiConsole.MarkupLine("  the JSON API takes it as [grey]Authorization: Bearer TOKEN[/] (e.g. GET /api/jobs)");
        }
        else
        {
            AnsiConsole.MarkupLine(o.Web.AdminTokenEnv is { } env
                ? $"  sign in with the admin token from ${Markup.Escape(env)}, or a configured user"
                : "  sign in with the configured admin token or user");
        }
    }

    private static async Task ServeUntilStoppedAsync(WebApplication app, bool keepServing, CancellationToken ct)
    {
        if (!keepServing)
        {
            return;
        }

        AnsiConsole.MarkupLine($"the admin page stays up at [blue]{Markup.Escape(RunnerHost.Options(app).Web.Url)}[/]; press Ctrl+C to stop");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Why this host cannot run microVMs, or null when /dev/kvm opens.</summary>
    public static string? KvmNote()
    {
        if (!File.Exists("/dev/kvm"))
        {
            return "/dev/kvm is missing: this host cannot run microVMs" +
                   (Directory.Exists("/sys/module/kvm_pvm") ? " (kvm is loaded but registered no /dev/kvm: this host is itself a kvm-pvm guest)" : "");
        }

        try
        {
            using var f = new FileStream("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
            return File.ReadAllText("/proc/cpuinfo").Contains(" vmx", StringComparison.Ordinal) || File.ReadAllText("/proc/cpuinfo").Contains(" svm", StringComparison.Ordinal)
                ? null
                : "/dev/kvm is emulated here (no vmx/svm: kvm-pvm): guest kernel code runs ~3600× slower, so boots take minutes (Kindling's own guest kernel is used)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"/dev/kvm cannot be opened ({e.Message}): run as root or add the user to the kvm group";
        }
    }
}
