// kindling-vmm: one microVM per process, configured by a Firecracker-format config file and/or the
// Firecracker-compatible REST API on a Unix socket; `kindling-vmm jail ...` runs it jailed.
// Exit 0 when the guest resets through the i8042; 1 with one line on stderr ("kindling-vmm: ...") otherwise.
using Kindling.Vmm.Cli;

JailCommand.RunVmm = vmmArgs => VmmMain.RunAsync(vmmArgs).GetAwaiter().GetResult();
if (JailCommand.TryRun(args, out int jailExit))
{
    return jailExit;
}

return await VmmMain.RunAsync(args);
