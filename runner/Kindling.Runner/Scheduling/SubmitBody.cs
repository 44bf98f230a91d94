using System.Text.Json;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Scheduling;

/// <summary>Reads a <c>POST /api/jobs</c> body; a malformed one is refused naming the field and what it takes.</summary>
public static class SubmitBody
{
    public static SubmitRequest Parse(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, SubmitJson.Default.SubmitRequest)
                   ?? throw new SubmitRefusedException(SubmitRefusal.Invalid, "the body is null; send a JSON object");
        }
        catch (JsonException e)
        {
            throw new SubmitRefusedException(SubmitRefusal.Invalid, Describe(e));
        }
    }

    /// <summary>System.Text.Json's error as the field it is about and what to send instead.</summary>
    private static string Describe(JsonException e)
    {
        string path = Field(e.Path);
        string message = e.Message.Split(" Path:")[0];
        if (message.Contains("could not be mapped", StringComparison.Ordinal) && Quoted(message) is { } unknown)
        {
            bool step = path.StartsWith("steps[", StringComparison.Ordinal);
            // The path names the unknown member itself (or, from some readers, the object holding it).
            string where = path == unknown || path.EndsWith("." + unknown, StringComparison.Ordinal) ? path : path.Length == 0 ? unknown : $"{path}.{unknown}";
            return $"{where}: unknown field; a {(step ? "step" : "job")} has {string.Join(", ", step ? SubmitStep.Fields : SubmitRequest.Fields)}";
        }

        if (path.Length == 0)
        {
            return $"the body is not the JSON object POST /api/jobs takes ({message})";
        }

        return message.Contains("could not be converted", StringComparison.Ordinal)
            ? $"{path}: has the wrong type; see POST /api/jobs in the README for each field's type"
            : $"{path}: {message}";
    }

    /// <summary><c>$.steps[0].run</c> → <c>steps[0].run</c>.</summary>
    private static string Field(string? path) =>
        path is null or "$" ? "" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string? Quoted(string message)
    {
        int a = message.IndexOf('\'', StringComparison.Ordinal);
        int b = a < 0 ? -1 : message.IndexOf('\'', a + 1);
        return b > a ? message[(a + 1)..b] : null;
    }
}
