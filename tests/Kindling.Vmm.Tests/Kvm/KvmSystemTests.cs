using Kindling.Testing;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Tests.Kvm;

public sealed class KvmSystemTests
{
    [Fact]
    public void Open_MissingDevice_ThrowsWithModuleHintAndErrno()
    {
        KvmException e = Assert.Throws<KvmException>(() => KvmSystem.Open("/nonexistent/kvm"));

        Assert.Equal(Libc.ENOENT, e.Errno);
        Assert.Contains("/nonexistent/kvm not found: load kvm_intel or kvm_amd", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Libc.EACCES)]
    [InlineData(Libc.EPERM)]
    public void DescribeOpenFailure_PermissionDenied_SaysGroupKvmOrRoot(int errno)
    {
        string message = KvmSystem.DescribeOpenFailure("/dev/kvm", errno);

        Assert.StartsWith("permission denied opening /dev/kvm", message, StringComparison.Ordinal);
        Assert.Contains("group kvm", message, StringComparison.Ordinal);
        Assert.Contains("run as root", message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetApiVersion_OnANonKvmFile_ThrowsWithTheIoctlNameAndErrno()
    {
        // /dev/null opens like /dev/kvm but answers every ioctl with ENOTTY: this drives the real ioctl path.
        using KvmSystem notKvm = KvmSystem.Open("/dev/null");

        KvmException e = Assert.Throws<KvmException>(() => notKvm.GetApiVersion());

        Assert.Equal(25, e.Errno); // ENOTTY
        Assert.StartsWith("KVM_GET_API_VERSION:", e.Message, StringComparison.Ordinal);
        Assert.Contains("errno 25", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_ThenIoctl_ThrowsObjectDisposed()
    {
        KvmSystem handle = KvmSystem.Open("/dev/null");

        handle.Dispose();

        Assert.True(handle.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => handle.GetApiVersion());
    }

    [KvmFact]
    public void CheckRequirements_RealKvm_Passes()
    {
        using KvmSystem kvm = KvmSystem.Open();

        kvm.CheckRequirements();

        Assert.Equal(KvmSystem.ExpectedApiVersion, kvm.GetApiVersion());
        Assert.True(kvm.GetVcpuMmapSize() >= 2352);
        Assert.Contains(kvm.GetSupportedCpuid(), e => e.Function == 0);
    }
}
