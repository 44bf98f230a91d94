using Kindling.Testing;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Kvm;

/// <summary>A few real-mode instructions on real KVM: OUT reaches the VMM as an I/O exit, HLT as a HLT exit.</summary>
public sealed class RealModeGuestTests
{
    private const ulong CodeAddress = 0x1000;

    // mov al, 'K'; mov dx, 0x3f8; out dx, al; in al, dx; hlt
    private static readonly byte[] Code = [0xb0, (byte)'K', 0xba, 0xf8, 0x03, 0xee, 0xec, 0xf4];

    [KvmFact]
    public void Run_OutThenInThenHlt_ExitsInOrderWithTheData()
    {
        using KvmSystem kvm = KvmSystem.Open();
        kvm.CheckRequirements();
        using VmFd vm = kvm.CreateVm();
        vm.SetTssAddress(0xfffb_d000);
        using GuestMemoryMmap memory = GuestMemoryMmap.Create([new GuestRegion(new GuestAddress(0), 0x10000)]);
        HostMappedRegion region = memory.HostRegions[0];
        vm.SetUserMemoryRegion(0, region.GuestAddress.Value, region.Size, region.HostAddress);
        memory.Write(new GuestAddress(CodeAddress), Code);

        using VcpuFd vcpu = vm.CreateVcpu(0);
        KvmSregs sregs = vcpu.GetSregs();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        vcpu.SetSregs(sregs);
        vcpu.SetRegs(new KvmRegs { Rip = CodeAddress, Rflags = 0x2 });

        VcpuExit first = vcpu.Run();
        Assert.Equal(VcpuExitKind.IoOut, first.Kind);
        Assert.Equal(0x3f8UL, first.Address);
        Assert.Equal(new byte[] { (byte)'K' }, vcpu.ExitData.ToArray());

        VcpuExit second = vcpu.Run();
        Assert.Equal(VcpuExitKind.IoIn, second.Kind);
        vcpu.ExitData[0] = 0x5a;

        VcpuExit third = vcpu.Run();
        Assert.Equal(VcpuExitKind.Hlt, third.Kind);
        Assert.Equal(0x5aUL, vcpu.GetRegs().Rax & 0xff);
        Assert.Equal(CodeAddress + (ulong)Code.Length, vcpu.GetRegs().Rip);
    }

    [KvmFact]
    public void Run_ImmediateExitSet_ReturnsIntrWithoutEnteringTheGuest()
    {
        using KvmSystem kvm = KvmSystem.Open();
        using VmFd vm = kvm.CreateVm();
        using VcpuFd vcpu = vm.CreateVcpu(0);
        vcpu.RequestImmediateExit(true);

        Assert.Equal(VcpuExitKind.Intr, vcpu.Run().Kind);
    }
}
