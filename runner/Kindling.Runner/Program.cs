using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

var root = new RootCommand("kindling: CI jobs in throw-away microVMs");

// daemon
var configOption = new Option<string?>("--config", "-c") { Description = "config file (default /etc/kindling/kindling.json, else config/kindling.json)" };
var daemon = new Command("daemon", "poll the configured forges and run their jobs in microVMs") { configOption };
daemon.SetAction(async (parse, ct) =>
{
    string? file = parse.GetValue(configOption) ?? RunnerHost.DefaultConfigPaths.FirstOrDefault(File.Exists);
    if (file is null)
    {
        Console.Error.WriteLine($"kindling daemon: no config file; pass --config or create one of: {string.Join(", ", RunnerHost.DefaultConfigPaths)}");
        return 2;
    }

    WebApplication app;
    try
    {
        app = RunnerHost.Build([], file, runDaemon: true);
        _ = app.Services.GetRequiredService<IOptions<KindlingOptions>>().Value; // validate before the host logs
    }
    catch (OptionsValidationException e)
    {
        Console.Error.WriteLine($"kindling daemon: invalid configuration ({file}):");
        foreach (string failure in e.Failures)
        {
            Console.Error.WriteLine("  " + failure);
        }

        return 2;
    }
    catch (JobStoreSchemaException e) // the job database was written by a newer kindling (opened while the host is built)
    {
        Console.Error.WriteLine($"kindling daemon: {e.Message}");
        return 2;
    }
    catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException)
    {
        // The shared job database did not answer while the host was built (its migrations are tried for about half a minute).
        Console.Error.WriteLine($"kindling daemon: the job database did not answer: {e.Message}; check Kindling:Store (its connection string) and that the database is up");
        return 1;
    }
    catch (Exception e) when (e is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
    {
        // The file itself: not JSON, a duplicate key, unreadable.
        string why = e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message;
        Console.Error.WriteLine($"kindling daemon: cannot read the configuration ({file}): {why}");
        return 2;
    }

    try
    {
        await app.RunAsync();
        return 0;
    }
    catch (IOException e) when (e.Message.Contains("bind", StringComparison.OrdinalIgnoreCase))
    {
        Console.Error.WriteLine($"kindling daemon: cannot listen on {RunnerHost.Options(app).Web.Url}: {e.Message}; stop what uses the port or change Kindling:Web:Url");
        return 2;
    }
});
root.Subcommands.Add(daemon);

// demo
var stateOption = new Option<string?>("--state") { Description = "state directory (default $KINDLING_STATE or ~/.local/share/kindling)" };
var launcherOption = new Option<string>("--launcher") { Description = "vmm (real microVMs) or stub (simulated)", DefaultValueFactory = _ => "vmm" };
var keepServingOption = new Option<bool>("--keep-serving") { Description = "keep the admin page up after the job until Ctrl+C" };
var demo = new Command("demo", "run a sample job in a microVM with embedded defaults") { stateOption, launcherOption, keepServingOption };
demo.SetAction((parse, ct) => DemoCommand.RunAsync(
    parse.GetValue(stateOption) ?? KindlingServices.DefaultStateDirectory(), parse.GetValue(launcherOption) ?? "vmm", ct, parse.GetValue(keepServingOption)));
root.Subcommands.Add(demo);

// replay
root.Subcommands.Add(ReplayCommand.Build());

// submit
root.Subcommands.Add(SubmitCommand.Build());

// vm list | kill
var vm = new Command("vm", "the VMM processes on this host");
var vmList = new Command("list", "list running VMMs");
vmList.SetAction(_ =>
{
    foreach (RunningVm v in RunningVms.List())
    {
        Console.WriteLine($"{v.Pid,8}  {v.VmId,-24} up {v.Uptime:hh\\:mm\\:ss}  {v.CommandLine}");
    }

    return 0;
});
var vmTarget = new Argument<string>("vm") { Description = "VM id (kindling-vm-N) or pid" };
var vmKill = new Command("kill", "kill a VMM (its job fails and is cleaned up by the daemon)") { vmTarget };
vmKill.SetAction(async (parse, ct) =>
{
    string target = parse.GetValue(vmTarget)!;
    if (await VmCommands.KillAsync(target))
    {
        return 0;
    }

    Console.Error.WriteLine($"kindling vm kill: no running VM '{target}' (see kindling vm list)");
    return 1;
});
vm.Subcommands.Add(vmList);
vm.Subcommands.Add(vmKill);
root.Subcommands.Add(vm);

// web hash-password
var web = new Command("web", "the admin page");
var hashPassword = new Command("hash-password", "read a password from stdin and print its hash for Kindling:Web:Users:N:PasswordHash");
hashPassword.SetAction(_ =>
{
    if (!Console.IsInputRedirected)
    {
        Console.Error.Write("password: ");
    }

    string? password = Console.ReadLine();
    if (string.IsNullOrEmpty(password))
    {
        Console.Error.WriteLine("kindling web hash-password: no password on stdin");
        return 2;
    }

    Console.WriteLine(Kindling.Runner.Web.WebAuth.HashPassword(password));
    return 0;
});
web.Subcommands.Add(hashPassword);
root.Subcommands.Add(web);

// images build | list | fetch-runner
Kindling.Images.ImageCommands ImageCommands(string? state, Kindling.Images.ActionsRunner.ActionsRunnerSource? runner = null) => new(new Kindling.Images.ImageStore(new Kindling.Images.ImageStoreOptions
{
    CacheDirectory = Path.Combine(state ?? KindlingServices.DefaultStateDirectory(), "images"),
    ActionsRunner = runner,
}));

var images = new Command("images", "guest kernel, initramfs and base root filesystem");
var flavourOption = new Option<string>("--flavour") { Description = "base rootfs flavour: minimal (seconds), debian or github (minutes, need root; github also the actions/runner release)", DefaultValueFactory = _ => "minimal" };
var runnerVersionOption = new Option<string?>("--runner-version") { Description = "actions/runner release (default Kindling:Images:ActionsRunner:Version of the config)" };
var runnerShaOption = new Option<string?>("--sha256") { Description = "SHA-256 of its linux-x64 tarball (default Kindling:Images:ActionsRunner:Sha256)" };
var runnerUrlOption = new Option<string?>("--url") { Description = "download address, {Version} replaced (default: the config's, else GitHub's release download)" };
var runnerFileOption = new Option<string?>("--actions-runner") { Description = "a local actions-runner-linux-x64-<Version>.tar.gz to check and cache instead of downloading" };

// The actions/runner release of the config file, overridden by the verb's options; null (after saying why) when the file is unreadable.
ActionsRunnerOptions? PinnedRunner(ParseResult parse, string verb)
{
    ActionsRunnerOptions pinned = new();
    if ((parse.GetValue(configOption) ?? RunnerHost.DefaultConfigPaths.FirstOrDefault(File.Exists)) is { } file)
    {
        try
        {
            new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddJsonFile(Path.GetFullPath(file), optional: false).Build()
                .GetSection($"{KindlingOptions.Section}:Images:ActionsRunner").Bind(pinned);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or InvalidOperationException)
        {
            Console.Error.WriteLine($"kindling images {verb}: cannot read {file}: {e.Message}");
            return null;
        }
    }

    pinned.Version = parse.GetValue(runnerVersionOption) ?? pinned.Version;
    pinned.Sha256 = parse.GetValue(runnerShaOption) ?? pinned.Sha256;
    if (parse.GetValue(runnerFileOption) is { } local)
    {
        (pinned.File, pinned.Url) = (local, "");
    }
    else if (parse.GetValue(runnerUrlOption) is { } url)
    {
        (pinned.Url, pinned.File) = (url, "");
    }

    return pinned;
}

var imagesBuild = new Command("build", "build (or verify the cache of) the kernel, initramfs and base rootfs")
{
    stateOption, flavourOption, configOption, runnerVersionOption, runnerShaOption, runnerUrlOption, runnerFileOption,
};
imagesBuild.SetAction(async (parse, ct) =>
{
    Kindling.Images.Rootfs.Flavour flavour;
    try
    {
        flavour = Kindling.Images.Rootfs.FlavourNames.Parse(parse.GetValue(flavourOption) ?? "minimal");
    }
    catch (Kindling.Images.ImageBuildException e)
    {
        Console.Error.WriteLine($"kindling images build: {e.Message}");
        return 2;
    }

    Kindling.Images.ActionsRunner.ActionsRunnerSource? runner = null;
    if (flavour == Kindling.Images.Rootfs.Flavour.Github)
    {
        if (PinnedRunner(parse, "build") is not { } pinned)
        {
            return 2;
        }

        if (pinned.ToSource().Problems() is { Count: > 0 } problems)
        {
            string hint = problems.Any(p => p.Contains(":Version:", StringComparison.Ordinal) || p.Contains(":Sha256:", StringComparison.Ordinal)) ? " (or pass --runner-version and --sha256)" : "";
            Console.Error.WriteLine($"kindling images build: the github flavour needs the actions/runner release: {string.Join("; ", problems)}{hint}");
            return 2;
        }

        runner = pinned.ToSource();
    }

    if (await HostSetup.ForThisHost(Console.Out).EnsureAsync("kindling images build", HostSetup.ForImages(flavour), ct) is { } setup)
    {
        Console.Error.WriteLine($"kindling images build: {setup}");
        return 2;
    }

    return await ImageCommands(parse.GetValue(stateOption), runner).BuildAsync(flavour, Spectre.Console.AnsiConsole.Console, ct);
});
var imagesList = new Command("list", "list the built images and cached actions/runner releases with sizes") { stateOption };
imagesList.SetAction(parse => ImageCommands(parse.GetValue(stateOption)).List(Spectre.Console.AnsiConsole.Console));
var fetchRunner = new Command("fetch-runner", "download (or verify the cache of) the pinned actions/runner release tarball")
{
    configOption, stateOption, runnerVersionOption, runnerShaOption, runnerUrlOption, runnerFileOption,
};
fetchRunner.SetAction(async (parse, ct) =>
{
    if (PinnedRunner(parse, "fetch-runner") is not { } pinned)
    {
        return 2;
    }

    if (pinned.ToSource().Problems() is { Count: > 0 } problems)
    {
        Console.Error.WriteLine($"kindling images fetch-runner: {string.Join("; ", problems)} (or pass --runner-version and --sha256)");
        return 2;
    }

    using HttpClient http = new();
    return await ImageCommands(parse.GetValue(stateOption)).FetchRunnerAsync(pinned.ToSource(), http, Spectre.Console.AnsiConsole.Console, ct);
});
images.Subcommands.Add(imagesBuild);
images.Subcommands.Add(imagesList);
images.Subcommands.Add(fetchRunner);
root.Subcommands.Add(images);

return await root.Parse(args).InvokeAsync();
