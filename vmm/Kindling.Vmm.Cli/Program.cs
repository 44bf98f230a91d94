// kindling-vmm: one microVM per process, configured by a Firecracker-format config file and/or the
// Firecracker-compatible REST API on a Unix socket; `kindling-vmm jail ...` runs it jailed.
// Exit 0 when the guest resets through the i8042; 1 with one line on stderr ("kindling-vmm: ...") otherwise.
// `kindling-vmm probe-kvm` prints what backs /dev/kvm (hardware or emulated) as one JSON line.
using Kindling.Vmm.Cli;

if (args is [ProbeCommand.Name, .. string[] probeArgs])
{
    return ProbeCommand.Run(probeArgs);
}

JailCommand.RunVmm = vmmArgs => VmmMain.RunAsync(vmmArgs).GetAwaiter().GetResult();
if (JailCommand.TryRun(args, out int jailExit))
{
    return jailExit;
}

return await VmmMain.RunAsync(args);
