using Spectre.Console;

namespace Kindling.Images.Tests;

/// <summary>A Spectre console without colours or interaction that writes into a string, for asserting a verb's output.</summary>
internal static class PlainConsole
{
    public static (IAnsiConsole Console, StringWriter Output) Create(int width)
    {
        StringWriter w = new();
        IAnsiConsole c = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(w),
        });
        c.Profile.Width = width;
        return (c, w);
    }
}
