using Kindling.Images;
using Kindling.Runner.Jobs;
using Kindling.Testing.Architecture;

namespace Kindling.Runner.Tests.Architecture;

/// <summary>One native layer (issue 19 item 2): the runner and the image builders call Kindling.Native, never libc directly.</summary>
public sealed class NativeLayerTests
{
    [Fact]
    public void Runner_LibcImports_None() => NativeImports.AssertNoLibcImports(typeof(JobLifecycle).Assembly);

    [Fact]
    public void Images_LibcImports_None() => NativeImports.AssertNoLibcImports(typeof(ImageStore).Assembly);
}
