using System.Reflection;
using System.Text.RegularExpressions;
using Kindling.Testing;

namespace Kindling.Vmm.Tests.Contract;

/// <summary>The MMDS keys of the contract are the keys images/guest/PROTOCOL.md documents for the guest agent.</summary>
public sealed partial class MmdsKeysTests
{
    /// <summary>Every constant of <see cref="MmdsKeys"/> and its nested classes, as "Class.Name" and value.</summary>
    public static TheoryData<string, string> Keys()
    {
        var data = new TheoryData<string, string>();
        foreach (Type type in (Type[])[typeof(MmdsKeys), .. typeof(MmdsKeys).GetNestedTypes()])
        {
            foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            {
                data.Add($"{type.Name}.{field.Name}", (string)field.GetRawConstantValue()!);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void Key_IsInTheProtocolsTree(string constant, string key)
    {
        string tree = ProtocolTree();

        Assert.False(string.IsNullOrEmpty(constant));
        Assert.Matches(KeyPattern(key), tree); // the key of MmdsKeys.{constant} is one of PROTOCOL.md's tree
    }

    /// <summary>The test can fail: a key the protocol does not have is not found.</summary>
    [Fact]
    public void KeyPattern_KeyNotInTheTree_NotFound()
    {
        string tree = ProtocolTree();

        Assert.DoesNotMatch(KeyPattern("job_id"), tree);
        Assert.DoesNotMatch(KeyPattern("jit"), tree);
        Assert.Matches(KeyPattern("jitconfig"), tree);
    }

    /// <summary>A key as the section writes it: a word on its own (a path segment, a record's field name).</summary>
    private static Regex KeyPattern(string key) => new($@"(?<![\w]){Regex.Escape(key)}(?![\w])", RegexOptions.Multiline);

    /// <summary>PROTOCOL.md's "The job in the metadata service" section, up to the serial console's framing.</summary>
    private static string ProtocolTree()
    {
        string text = File.ReadAllText(Path.Combine(RepoPaths.Root, "images", "guest", "PROTOCOL.md"));
        Match m = TreeBlock().Match(text);
        Assert.True(m.Success, "PROTOCOL.md has no MMDS tree block");
        return m.Groups[1].Value;
    }

    [GeneratedRegex(@"## The job in the metadata service(.*?)\n## ", RegexOptions.Singleline)]
    private static partial Regex TreeBlock();
}
