using System.Reflection;
using System.Runtime.InteropServices;
using Xunit;

namespace Kindling.Testing.Architecture;

/// <summary>One P/Invoke found in an assembly: its declaring type and method, the library and the C entry point.</summary>
public sealed record NativeImport(string Type, string Method, string Library, string EntryPoint)
{
    public override string ToString() => $"{Type}.{Method} -> {Library}!{EntryPoint}";
}

/// <summary>
/// The P/Invokes of an assembly, read by reflection: every method with the pinvokeimpl flag, the ones
/// [LibraryImport] generates (its inner extern stub) and any [DllImport]. For the native-layer rule of issue 19 item 2.
/// </summary>
public static class NativeImports
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;

    public static IReadOnlyList<NativeImport> Of(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        List<NativeImport> found = [];
        foreach (Type type in assembly.GetTypes())
        {
            foreach (MethodInfo method in type.GetMethods(All))
            {
                if ((method.Attributes & MethodAttributes.PinvokeImpl) == 0)
                {
                    continue;
                }

                DllImportAttribute? import = method.GetCustomAttribute<DllImportAttribute>();
                string owner = (type.DeclaringType ?? type).FullName ?? type.Name;
                found.Add(new NativeImport(owner, method.Name, import?.Value ?? "?", import?.EntryPoint ?? method.Name));
            }
        }

        return found;
    }

    /// <summary>The assembly declares no P/Invoke into the C library: it calls Kindling.Native instead.</summary>
    public static void AssertNoLibcImports(Assembly assembly)
    {
        NativeImport[] libc = [.. Of(assembly).Where(i => i.Library is "libc" or "libc.so.6")];
        if (libc.Length > 0)
        {
            Assert.Fail(
                $"{assembly.GetName().Name} declares {libc.Length} libc P/Invoke(s); declare them once in native/Kindling.Native " +
                $"and call them there (issue 19 item 2):\n  {string.Join("\n  ", libc.Select(i => i.ToString()))}");
        }
    }
}
