using System.Runtime.InteropServices;
using Kindling.Testing.Architecture;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Architecture;

/// <summary>
/// One native layer (issue 19 item 2), held by the build: the monitor declares no libc P/Invoke of its own, and
/// Kindling.Native declares each C entry point in one place (overloads of one call, such as ioctl's pointer and value
/// forms, sit side by side).
/// </summary>
public sealed class NativeLayerTests
{
    [Fact]
    public void Vmm_LibcImports_None() => NativeImports.AssertNoLibcImports(typeof(IGuestMemory).Assembly);

    [Fact]
    public void VmmCli_LibcImports_None() => NativeImports.AssertNoLibcImports(typeof(CliException).Assembly);

    [Fact]
    public void Native_EachEntryPoint_DeclaredByOneType()
    {
        IReadOnlyList<NativeImport> imports = NativeImports.Of(typeof(Libc).Assembly);
        Assert.Contains(imports, i => i.EntryPoint == "epoll_wait"); // the reflection sees the generated stubs

        string[] spread = [.. imports.GroupBy(i => i.EntryPoint)
            .Where(g => g.Select(i => i.Type).Distinct(StringComparer.Ordinal).Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(i => i.Type).Distinct(StringComparer.Ordinal))}")];
        Assert.True(spread.Length == 0, $"declared in more than one type:\n  {string.Join("\n  ", spread)}");
    }

    [Fact]
    public void Native_Imports_AllFromLibc()
    {
        // The jail copies the native binary with only its loader, libc and libm: another library would break it.
        string[] other = [.. NativeImports.Of(typeof(Libc).Assembly).Where(i => i.Library != Libc.Library).Select(i => i.ToString())];
        Assert.True(other.Length == 0, $"P/Invokes into another library:\n  {string.Join("\n  ", other)}");
    }

    [Fact]
    public void NativeImports_AssemblyWithLibcImport_Fails()
    {
        // The rule can fail: this test assembly declares libc imports of its own (test helpers).
        Assert.ThrowsAny<Exception>(() => NativeImports.AssertNoLibcImports(typeof(NativeLayerTests).Assembly));
    }

    [Fact]
    public void FileDescriptor_DisposedDuringNoCall_ClosesOnce()
    {
        using EventFdHandle fd = EventFdHandle.Create();
        fd.Signal();
        Assert.Equal(1UL, fd.Drain());
        fd.Dispose();
        Assert.True(fd.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => FdIo.Read(fd, new byte[8])); // the marshaller refuses a closed handle
    }

    [Fact]
    public void SyscallException_Errno_NamesCallAndText()
    {
        var e = new SyscallException("open /nonexistent", Libc.ENOENT);
        Assert.Equal($"open /nonexistent failed: {Marshal.GetPInvokeErrorMessage(Libc.ENOENT)} (errno 2)", e.Message);
        Assert.Equal(Libc.ENOENT, e.Errno);
        Assert.IsAssignableFrom<IOException>(e);
        Assert.IsAssignableFrom<SyscallException>(new Kindling.Vmm.Jail.JailSyscallException("mount(x)", Libc.EPERM));
        Assert.Equal(Libc.EPERM, Assert.IsAssignableFrom<SyscallException>(new Kindling.Vmm.Kvm.KvmException("KVM_RUN", Libc.EPERM)).Errno);
    }
}
