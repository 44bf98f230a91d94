using Kindling.Runner.Web;
using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Tests.Web;

public sealed class HtmlAndLogTailTests
{
    [Fact]
    public void H_InterpolatedText_IsEncodedButHtmlIsNot()
    {
        string name = "<img src=x onerror=alert(1)> & \"quotes\"";
        Html inner = H($"<b>{name}</b>");
        Assert.Equal("<p><b>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;</b></p>", H($"<p>{inner}</p>").Value);
        Assert.Equal("<i>1</i><i>2</i>", H($"{new[] { 1, 2 }.Select(i => H($"<i>{i}</i>"))}").Value);
    }

    [Fact]
    public void ReadLines_UnfinishedLastLine_WaitsForItsNewline()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "one\ntwo\nthr");
            (string? text, long next) = LogTail.ReadLines(path, 0, wholeFile: false);
            Assert.Equal("one\ntwo", text);
            Assert.Equal(8, next);
            Assert.Equal((null, 8L), LogTail.ReadLines(path, next, wholeFile: false));
            Assert.Equal(("thr", 11L), LogTail.ReadLines(path, next, wholeFile: true));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadLines_MissingFile_ReturnsNothing() =>
        Assert.Equal((null, 5L), LogTail.ReadLines("/nonexistent/kindling.log", 5, wholeFile: true));

    [Fact]
    public void Present_FramingLines_BecomeReadableMarkers()
    {
        string shown = LogTail.Present(
            "##kindling[step-start n=0 name=QnVpbGQ]\nmake: done\n##kindling[step-end n=0 exit=2 seconds=1.5]\n##kindling[job-end result=failed exit=2]");
        Assert.Equal("── step 1: Build\nmake: done\n── step 1 exited 2 after 1.5 s\n── job ended: failed (exit 2)", shown);
    }
}
