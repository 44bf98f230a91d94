using Kindling.Testing.Architecture;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Architecture;

/// <summary>
/// The monitor's layering rules (STYLE.md 1, issue 19 item 5), held by the build: every type each type of
/// Kindling.Vmm refers to, in signatures and in method bodies (lambdas and async state machines included), read
/// from the assembly's metadata and IL.
/// </summary>
public sealed class LayeringTests
{
    private static readonly Lazy<TypeDependencies> Vmm = new(() => TypeDependencies.Of(typeof(IGuestMemory).Assembly));

    /// <summary>
    /// The folder edges on a cycle: none left (issue 19 item 4 removed Devices/EventLoop, devices run on
    /// Devices.IEventLoop, and Interop/Jail, the jail's libc wrappers live in Jail). A new cycle fails the test.
    /// </summary>
    private static readonly string[] KnownCyclicEdges = [];

    [Fact]
    public void Devices_ReferenceKvm_Never() =>
        ArchitectureAssert.NoReferences(
            Vmm.Value,
            from: ["Kindling.Vmm.Devices"],
            to: ["Kindling.Vmm.Kvm"],
            why: "STYLE.md 1: devices raise interrupts through IInterruptTrigger and reach guest memory through IGuestMemory");

    [Fact]
    public void Devices_ReferenceEventLoop_Never() =>
        ArchitectureAssert.NoReferences(
            Vmm.Value,
            from: ["Kindling.Vmm.Devices"],
            to: ["Kindling.Vmm.EventLoop"],
            why: "issue 19 item 3: devices run on Devices.IEventLoop, so a test can drive them without an epoll thread");

    [Fact]
    public void Api_ReferenceDevices_Never() =>
        ArchitectureAssert.NoReferences(
            Vmm.Value,
            from: ["Kindling.Vmm.Api"],
            to: ["Kindling.Vmm.Devices"],
            why: "STYLE.md 1: the API parses a request into a VmmAction for the VMM loop and never touches a device");

    [Fact]
    public void Memory_ReferenceLayersAbove_Never() =>
        ArchitectureAssert.NoReferences(
            Vmm.Value,
            from: ["Kindling.Vmm.Memory"],
            to: ["Kindling.Vmm.Devices", "Kindling.Vmm.Kvm", "Kindling.Vmm.Machine", "Kindling.Vmm.Api", "Kindling.Vmm.Boot"],
            why: "issue 19 item 5: guest memory is the bottom layer, as rust-vmm's vm-memory");

    [Fact]
    public void Folders_Cycles_OnlyTheKnownOnes() =>
        ArchitectureAssert.KnownCycles(new FolderGraph(Vmm.Value, "Kindling.Vmm"), KnownCyclicEdges, "issue 19 item 4");
}
