using System.Text.Json.Nodes;
using Kindling.Testing;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Mmds;

public sealed class MmdsHttpResponderTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly MmdsDataStore _store;
    private readonly MmdsHttpResponder _responder;

    public MmdsHttpResponderTests()
    {
        _store = new MmdsDataStore(_time);
        _store.Put(JsonNode.Parse("""{ "latest": { "meta-data": { "ami-id": "ami-1", "tags": { "a": "b" } }, "count": 3, "secret": "s" } }"""));
        _responder = new MmdsHttpResponder(_store);
    }

    private MmdsHttpResponse Send(string method, string target, params (string, string)[] headers) =>
        _responder.Respond(new MmdsHttpRequest(method, target, MmdsHttpRequest.NewHeaders(headers), []));

    private string Token(int ttl = 60)
    {
        MmdsHttpResponse r = Send("PUT", "/latest/api/token", ("X-metadata-token-ttl-seconds", ttl.ToString()));
        Assert.Equal(200, r.StatusCode);
        return r.Body;
    }

    [Fact]
    public void Get_V2WithoutToken_Returns401()
    {
        MmdsHttpResponse r = Send("GET", "/latest/secret");

        Assert.Equal(401, r.StatusCode);
        Assert.Contains("X-metadata-token", r.Body, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_V2WithToken_ReturnsValue()
    {
        MmdsHttpResponse r = Send("GET", "/latest/secret", ("X-metadata-token", Token()));

        Assert.Equal(200, r.StatusCode);
        Assert.Equal("s", r.Body);
        Assert.Equal("text/plain", r.ContentType);
    }

    [Fact]
    public void Get_AwsTokenHeaderName_IsAccepted()
    {
        Assert.Equal(200, Send("GET", "/latest/secret", ("X-aws-ec2-metadata-token", Token())).StatusCode);
    }

    [Fact]
    public void Get_TokenAfterExpiry_Returns401()
    {
        string token = Token(ttl: 10);
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(200, Send("GET", "/latest/secret", ("X-metadata-token", token)).StatusCode);

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(401, Send("GET", "/latest/secret", ("X-metadata-token", token)).StatusCode);
    }

    [Fact]
    public void Get_TamperedOrForeignToken_Returns401()
    {
        string token = Token();
        char[] chars = token.ToCharArray();
        chars[3] = chars[3] == 'A' ? 'B' : 'A';
        string foreign = new MmdsDataStore(_time).Tokens.Generate(60);

        Assert.Equal(401, Send("GET", "/latest/secret", ("X-metadata-token", new string(chars))).StatusCode);
        Assert.Equal(401, Send("GET", "/latest/secret", ("X-metadata-token", foreign)).StatusCode);
        Assert.Equal(401, Send("GET", "/latest/secret", ("X-metadata-token", "garbage!")).StatusCode);
    }

    [Fact]
    public void PutToken_TwoTokens_Differ()
    {
        Assert.NotEqual(Token(), Token());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("21601")]
    [InlineData("-1")]
    [InlineData("abc")]
    public void PutToken_BadTtl_Returns400(string ttl)
    {
        Assert.Equal(400, Send("PUT", "/latest/api/token", ("X-metadata-token-ttl-seconds", ttl)).StatusCode);
    }

    [Fact]
    public void PutToken_MaxTtl_IsAccepted()
    {
        Assert.Equal(200, Send("PUT", "/latest/api/token", ("X-metadata-token-ttl-seconds", "21600")).StatusCode);
    }

    [Fact]
    public void PutToken_WithoutTtl_Returns400()
    {
        Assert.Equal(400, Send("PUT", "/latest/api/token").StatusCode);
    }

    [Fact]
    public void PutToken_WithXForwardedFor_Returns400()
    {
        MmdsHttpResponse r = Send("PUT", "/latest/api/token", ("X-metadata-token-ttl-seconds", "60"), ("X-Forwarded-For", "10.0.0.1"));

        Assert.Equal(400, r.StatusCode);
        Assert.Contains("X-Forwarded-For", r.Body, StringComparison.Ordinal);
    }

    [Fact]
    public void Put_OtherPath_Returns404()
    {
        Assert.Equal(404, Send("PUT", "/latest/secret", ("X-metadata-token-ttl-seconds", "60")).StatusCode);
    }

    [Fact]
    public void Post_Returns405WithAllow()
    {
        MmdsHttpResponse r = Send("POST", "/latest/api/token");

        Assert.Equal(405, r.StatusCode);
        Assert.Contains(("Allow", "GET, PUT"), r.ExtraHeaders);
    }

    [Fact]
    public void Get_ObjectAsImds_ListsKeysWithSlashForObjects()
    {
        MmdsHttpResponse r = Send("GET", "/latest/meta-data/", ("X-metadata-token", Token()));

        Assert.Equal(200, r.StatusCode);
        Assert.Equal("ami-id\ntags/", r.Body);
    }

    [Fact]
    public void Get_AcceptJson_ReturnsJson()
    {
        MmdsHttpResponse r = Send("GET", "/latest/meta-data", ("X-metadata-token", Token()), ("Accept", "application/json"));

        Assert.Equal("application/json", r.ContentType);
        Assert.Equal("""{"ami-id":"ami-1","tags":{"a":"b"}}""", r.Body);
    }

    [Fact]
    public void Get_ImdsCompat_IgnoresAcceptJson()
    {
        _store.ImdsCompat = true;

        MmdsHttpResponse r = Send("GET", "/latest/secret", ("X-metadata-token", Token()), ("Accept", "application/json"));

        Assert.Equal("text/plain", r.ContentType);
        Assert.Equal("s", r.Body);
    }

    [Fact]
    public void Get_NumberAsImds_Returns400UnsupportedType()
    {
        MmdsHttpResponse r = Send("GET", "/latest/count", ("X-metadata-token", Token()));

        Assert.Equal(400, r.StatusCode);
        Assert.Contains("unsupported type", r.Body, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_Missing_Returns404()
    {
        Assert.Equal(404, Send("GET", "/latest/nope", ("X-metadata-token", Token())).StatusCode);
    }

    [Fact]
    public void Get_V1WithoutToken_ReturnsValue()
    {
        _store.Version = MmdsVersion.V1;

        Assert.Equal("s", Send("GET", "//latest//secret?x=1").Body);
    }

    [Fact]
    public void Get_RelativeTarget_Returns400()
    {
        Assert.Equal(400, Send("GET", "latest").StatusCode);
    }
}
