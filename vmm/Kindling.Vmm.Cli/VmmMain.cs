using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Vmm.Api;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Logging;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Memory;
using Kindling.Vmm.Mmds;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Cli;

/// <summary>The VMM's entry point, shared by the plain launch and the jailed one (<see cref="JailCommand"/>).</summary>
public static class VmmMain
{
    private const int Failure = 1;

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            CliArguments cli = CliArguments.Parse(args);
            if (cli.Help)
            {
                Console.Out.WriteLine(CliArguments.Usage);
                return 0;
            }

            TimeProvider time = TimeProvider.System;
            string id = cli.Id ?? "anonymous-instance";
            VmConfig? config = cli.ConfigFile is null ? null : VmConfigJson.LoadFile(cli.ConfigFile);

            // The log file (from the config file, or PUT /logger) sits behind one switchable provider: it is open
            // before the API starts (it logs the API's requests), and a PUT /logger before boot replaces it.
            // A plain LoggerFactory over our providers: no dependency-injection container, options or configuration
            // binding at start-up (LoggerFactory.Create builds all three).
            using var fileLog = new SwitchableLoggerProvider();
            using var console = new StderrLoggerProvider(Console.Error, time);
            using var loggers = new LoggerFactory(
                [console, fileLog],
                new LoggerFilterOptions { MinLevel = CliArguments.ParseLogLevel(cli.LogLevel) });

            var mmds = new MmdsDataStore(time, cli.MmdsSizeLimit ?? MmdsDataStore.DefaultSizeLimit);
            if (cli.Metadata is { } metadataPath)
            {
                mmds.Put(LoadMetadata(metadataPath));
            }

            // With the API socket the VMM waits for its configuration: open KVM and create the VM meanwhile (issue 24),
            // off the API's start; without KVM, or if that fails, InstanceStart does it and reports the error.
            Task<PreparedVm?>? prepared = cli.ApiSocket is not null
                ? PreparedVm.PrepareAhead(KvmSystem.DevicePath, loggers.CreateLogger<PreparedVm>())
                : null;
            using var backend = new MicroVmBackend(loggers, time, id, () => SerialOutputs.ForStdout(Console.OpenStandardOutput(), time), fileLog, prepared);
            if (config?.Logger is { } loggerConfig)
            {
                backend.ConfigureLogger(loggerConfig);
            }

            if (config?.Metrics is { } metricsConfig)
            {
                backend.ConfigureMetrics(metricsConfig);
            }

            var controller = new VmmController(backend, mmds, id, config, loggers.CreateLogger<VmmController>());
            using var shutdown = new CancellationTokenSource();
            using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                shutdown.Cancel();
            });

            ApiServer? api = null;
            var channel = new VmmActionChannel();
            if (cli.ApiSocket is { } socketPath)
            {
                api = await ApiServer.StartAsync(socketPath, channel, fileLog, shutdown.Token);
            }

            try
            {
                if (config is not null)
                {
                    // As Firecracker: a config file boots the guest at once; the API stays up for post-boot actions.
                    VmmOutcome outcome = controller.Handle(new StartMicroVm());
                    if (!outcome.IsSuccess)
                    {
                        Console.Error.WriteLine($"kindling-vmm: {outcome.FaultMessage}");
                        return Failure;
                    }
                }

                Task loop = channel.RunAsync(controller, shutdown.Token);
                Task started = backend.Started;
                if (await Task.WhenAny(started, loop) != started)
                {
                    await loop; // ends only on SIGTERM before any InstanceStart
                    return 0;
                }

                MicroVm vm = await backend.Started;
                using var input = new SerialInputPump(Console.OpenStandardInput(), vm.Machine.Serial);
                input.Start();
                using CancellationTokenRegistration stopOnSignal = shutdown.Token.Register(() => vm.Machine.Stop());
                VmExit exit = await vm.Machine.Completion;
                backend.Metrics?.Flush();
                if (exit.Reason == VmExitReason.Error)
                {
                    Console.Error.WriteLine($"kindling-vmm: {exit.Message}");
                }

                return exit.ExitCode;
            }
            catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
            {
                return 0;
            }
            finally
            {
                channel.Complete();
                if (api is not null)
                {
                    await api.DisposeAsync();
                }
            }
        }
        catch (Exception e) when (e is CliException or VmConfigException or KvmException or BootException or GuestMemoryException
                                      or VmmActionException or JsonException or MmdsException)
        {
            Console.Error.WriteLine($"kindling-vmm: {e.Message}");
            return Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"kindling-vmm: {e.Message}");
            return Failure;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"kindling-vmm: internal error: {e.GetType().Name}: {e.Message}");
            return Failure;
        }
    }

    private static JsonNode? LoadMetadata(string path)
    {
        string json = VmConfigJson.ReadUtf8File(path, "--metadata");
        try
        {
            return MmdsJson.Parse(json, $"--metadata {path}");
        }
        catch (MmdsException e)
        {
            throw new CliException(e.Message, e);
        }
    }
}
