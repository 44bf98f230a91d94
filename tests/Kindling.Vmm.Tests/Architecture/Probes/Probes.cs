// Types for TypeDependenciesTests: User refers to each target only inside a method body, never in a signature.
#pragma warning disable CA1812, CA1822, CA1052, CA1825, IDE0059

namespace Kindling.Vmm.Tests.Architecture.Probes;

internal sealed class NewedInBody;

internal sealed class NewedInLambda;

internal sealed class AwaitedInAsyncMethod
{
    public static Task<int> Value() => Task.FromResult(1);
}

internal sealed class GenericArgumentInBody;

internal sealed class TypeOfInBody;

internal static class StaticFieldInBody
{
    public static int Field = 1;
}

internal sealed class CaughtInBody : Exception;

internal static class NestedTypeOfTarget
{
    internal sealed class Inner;
}

internal sealed class Unused;

internal sealed class User
{
    public object Make() => new NewedInBody();

    public Func<object> Lambda() => () => new NewedInLambda();

    public async Task<int> Await() => await AwaitedInAsyncMethod.Value() + 1;

    public int Count() => new List<GenericArgumentInBody>().Count;

    public string Name() => typeof(TypeOfInBody).Name;

    public int Read() => StaticFieldInBody.Field;

    public int Catch()
    {
        try
        {
            return Read();
        }
        catch (CaughtInBody)
        {
            return 0;
        }
    }

    public object Nested() => new NestedTypeOfTarget.Inner();

    public object Cycle() => new ProbesB.Back();
}
