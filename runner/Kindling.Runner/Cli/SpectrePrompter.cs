using Kindling.Runner.Replay;
using Spectre.Console;

namespace Kindling.Runner.Cli;

/// <summary>Asks at the terminal (hidden input for secrets); only when stdin and stdout are terminals.</summary>
public sealed class SpectrePrompter : IReplayPrompter
{
    public bool IsInteractive => !Console.IsInputRedirected && !Console.IsOutputRedirected;

    public string AskSecret(string name) =>
        AnsiConsole.Prompt(new TextPrompt<string>($"secret [bold]{Markup.Escape(name)}[/]:").Secret().AllowEmpty());

    public int Choose(string title, IReadOnlyList<string> choices)
    {
        string picked = AnsiConsole.Prompt(new SelectionPrompt<string>().Title(Markup.Escape(title)).AddChoices(choices.Select(Markup.Escape)));
        return choices.Select(Markup.Escape).ToList().IndexOf(picked);
    }
}
