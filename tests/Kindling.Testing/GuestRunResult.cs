namespace Kindling.Testing;

/// <summary>What a bounded run of a VM process (QEMU or kindling-vmm) left behind.</summary>
/// <param name="ExitCode">The exit status; -1 when the run was killed on its timeout.</param>
/// <param name="TimedOut">True when the process ran past its timeout and was killed.</param>
/// <param name="Serial">Everything on stdout: the guest's serial console.</param>
/// <param name="Stderr">Everything on stderr: the VM process's own messages.</param>
/// <param name="FirstByte">From process start to the first byte on stdout; null when nothing came.</param>
/// <param name="Elapsed">From process start to its exit (or kill).</param>
/// <param name="LineTimes">Each complete serial line (no CR/LF) with the time from process start its newline came.</param>
public sealed record GuestRunResult(
    int ExitCode, bool TimedOut, string Serial, string Stderr, TimeSpan? FirstByte, TimeSpan Elapsed,
    IReadOnlyList<(TimeSpan At, string Line)> LineTimes)
{
    /// <summary>When <paramref name="line"/> (exactly) arrived first; null when it never did.</summary>
    public TimeSpan? TimeOf(string line) =>
        LineTimes.Where(t => t.Line == line).Select(t => (TimeSpan?)t.At).FirstOrDefault();

    /// <summary>The line a guest prints when scenario <paramref name="name"/> passed.</summary>
    public static string PassLine(string name) => $"KINDLING-TEST {name} PASS";

    /// <summary>True when the serial console carries the PASS line of <paramref name="name"/> and no FAIL line.</summary>
    public bool Passed(string name) =>
        Lines.Contains(PassLine(name)) && !Lines.Any(l => l.StartsWith($"KINDLING-TEST {name} FAIL", StringComparison.Ordinal));

    /// <summary>Serial output split into lines, carriage returns removed.</summary>
    public IReadOnlyList<string> Lines => Serial.Replace("\r", "", StringComparison.Ordinal).Split('\n');

    /// <summary>A failure message: exit status, timing and both output streams.</summary>
    public string Describe() =>
        $"exit {ExitCode}{(TimedOut ? " (killed on timeout)" : "")} after {Elapsed.TotalSeconds:F1} s\n" +
        $"--- serial ---\n{Serial}\n--- stderr ---\n{Stderr}";
}
