namespace Kindling.Runner.Replay;

/// <summary>Questions replay asks a person at a terminal (and never asks when stdin is not one).</summary>
public interface IReplayPrompter
{
    /// <summary>Whether there is a person to ask (stdin and stdout are terminals).</summary>
    bool IsInteractive { get; }

    /// <summary>Reads a secret without echoing it.</summary>
    string AskSecret(string name);

    /// <summary>Lets the person pick one of the choices; returns its index.</summary>
    int Choose(string title, IReadOnlyList<string> choices);
}

/// <summary>For scripts and tests: nobody to ask.</summary>
public sealed class NoPrompter : IReplayPrompter
{
    public bool IsInteractive => false;

    public string AskSecret(string name) => throw new InvalidOperationException("not interactive");

    public int Choose(string title, IReadOnlyList<string> choices) => throw new InvalidOperationException("not interactive");
}
