using System.Text;

namespace Kindling.Vmm.Config;

/// <summary>
/// Checks for text that came from a client: a JSON string may carry a lone surrogate (<c>"\ud800"</c>), which no
/// UTF-8 file, log line or JSON writer can hold; such text is refused where it enters, or replaced where it is echoed.
/// </summary>
public static class Utf16Text
{
    /// <summary>The index of the first lone surrogate in <paramref name="text"/>, or -1 when it is valid UTF-16.</summary>
    public static int IndexOfLoneSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary><paramref name="text"/> with each lone surrogate replaced by U+FFFD (for echoing client text back).</summary>
    public static string Sanitize(string text)
    {
        if (IndexOfLoneSurrogate(text) < 0)
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                result.Append(c).Append(text[++i]);
            }
            else
            {
                result.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }

        return result.ToString();
    }
}
