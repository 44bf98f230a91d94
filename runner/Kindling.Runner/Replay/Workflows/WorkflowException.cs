namespace Kindling.Runner.Replay.Workflows;

/// <summary>A workflow file that cannot be used, with the file, line and column and what to fix.</summary>
public sealed class WorkflowException : Exception
{
    public WorkflowException(string file, SourceMark? mark, string message)
        : base(mark is { } m ? $"{file}:{m.Line}:{m.Column}: {message}" : $"{file}: {message}")
    {
        File = file;
        Mark = mark;
        Reason = message;
    }

    public string File { get; }
    public SourceMark? Mark { get; }
    public string Reason { get; }
}
