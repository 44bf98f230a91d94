using System.Net;
using System.Text;
using System.Text.Json;
using Kindling.Runner.Forges.GitHub;
using Kindling.Runner.Tests.Web;
using Kindling.Runner.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Tests.Forges.GitHub;

public sealed class GitHubWebhookTests
{
    private const string Secret = "It's a Secret to Everybody";
    private const long Max = 64 * 1024;

    private static readonly string QueuedEvent = """
        {"action":"queued","workflow_job":{"id":29679449,"run_id":10921958,"name":"build","status":"queued","labels":["self-hosted","kindling"]},
         "repository":{"id":186853002,"full_name":"acme/app"}}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DefaultHttpContext Request(Stream body, long? contentLength, string? signature, string gitHubEvent = "workflow_job")
    {
        var ctx = new DefaultHttpContext();
        ctx.Request.Method = "POST";
        ctx.Request.Body = body;
        ctx.Request.ContentLength = contentLength;
        if (signature is not null)
        {
            ctx.Request.Headers[GitHubWebhook.SignatureHeader] = signature;
        }

        ctx.Request.Headers[GitHubWebhook.EventHeader] = gitHubEvent;
        return ctx;
    }

    private static DefaultHttpContext Signed(string body, string gitHubEvent = "workflow_job")
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        return Request(new MemoryStream(bytes), bytes.Length, WebhookSignature.Compute(Secret, bytes), gitHubEvent);
    }

    private static int Status(IResult r) => Assert.IsAssignableFrom<IStatusCodeHttpResult>(r).StatusCode ?? 200;

    private static string FaultMessage(IResult r) =>
        Assert.IsAssignableFrom<IValueHttpResult>(r).Value is Dictionary<string, string> d ? d["fault_message"] : "";

    [Fact]
    public async Task Receive_SignedQueuedEvent_AcceptedAndHandedOn()
    {
        List<WorkflowJobEvent> seen = [];
        IResult r = await GitHubWebhook.ReceiveAsync(Signed(QueuedEvent), Secret, Max, seen.Add);
        Assert.Equal(StatusCodes.Status202Accepted, Status(r));
        WorkflowJobEvent ev = Assert.Single(seen);
        Assert.Equal(("queued", 10921958L, "acme/app"), (ev.Action, ev.WorkflowJob.RunId, ev.Repository.FullName));
    }

    [Fact]
    public async Task Receive_ContentLengthOverLimit_413BeforeReadingTheBody()
    {
        var body = new ThrowingStream();
        List<WorkflowJobEvent> seen = [];
        IResult r = await GitHubWebhook.ReceiveAsync(Request(body, Max + 1, "sha256=00"), Secret, Max, seen.Add);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, Status(r));
        Assert.Contains("Forge:GitHub:WebhookMaxBodyBytes", FaultMessage(r), StringComparison.Ordinal);
        Assert.Equal(0, body.Reads);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Receive_ChunkedBodyOverLimit_413AfterReadingOnlyTheLimit()
    {
        var body = new EndlessStream();
        IResult r = await GitHubWebhook.ReceiveAsync(Request(body, null, "sha256=00"), Secret, Max, _ => Assert.Fail("handed on"));
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, Status(r));
        Assert.InRange(body.BytesRead, Max + 1, Max + 64 * 1024); // stopped at the limit, not at the end (there is none)
    }

    [Theory]
    [InlineData("sha256=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("sha1=abc")]
    [InlineData(null)]
    public async Task Receive_BadOrMissingSignature_401(string? signature)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(QueuedEvent);
        IResult r = await GitHubWebhook.ReceiveAsync(Request(new MemoryStream(bytes), bytes.Length, signature), Secret, Max, _ => Assert.Fail("handed on"));
        Assert.Equal(StatusCodes.Status401Unauthorized, Status(r));
        Assert.Contains(GitHubWebhook.SignatureHeader, FaultMessage(r), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Receive_SignedWithAnotherSecret_401()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(QueuedEvent);
        IResult r = await GitHubWebhook.ReceiveAsync(Request(new MemoryStream(bytes), bytes.Length, WebhookSignature.Compute("other", bytes)), Secret, Max, _ => { });
        Assert.Equal(StatusCodes.Status401Unauthorized, Status(r));
    }

    [Theory]
    [InlineData("{\"action\":\"queued\",")]
    [InlineData("not json")]
    [InlineData("{\"action\":\"queued\",\"workflow_job\":{\"id\":\"seven\"},\"repository\":{\"full_name\":\"acme/app\"}}")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("{\"action\":\"queued\",\"repository\":{\"full_name\":\"acme/app\"}}")]
    public async Task Receive_SignedButMalformed_400NamingTheProblem(string body)
    {
        IResult r = await GitHubWebhook.ReceiveAsync(Signed(body), Secret, Max, _ => Assert.Fail("handed on"));
        Assert.Equal(StatusCodes.Status400BadRequest, Status(r));
        Assert.StartsWith("the body is not a workflow_job event", FaultMessage(r), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Receive_SignedPing_204NotHandedOn()
    {
        IResult r = await GitHubWebhook.ReceiveAsync(Signed("""{"zen":"Keep it logically awesome."}""", "ping"), Secret, Max, _ => Assert.Fail("handed on"));
        Assert.IsType<NoContent>(r);
    }

    /// <summary>Through Kestrel: its own request-body limit is set from ours, so a chunked body is cut off there too.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Receive_OverLimitOnKestrel_413(bool chunked)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using WebApplication app = builder.Build();
        app.MapPost("/hook", (Delegate)((HttpContext ctx) => GitHubWebhook.ReceiveAsync(ctx, Secret, Max, _ => { })));
        await app.StartAsync(Ct);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        byte[] big = new byte[Max * 4];
        HttpContent content = chunked ? new StreamContent(new MemoryStream(big)) : new ByteArrayContent(big);
        if (chunked)
        {
            content.Headers.ContentLength = null;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/hook") { Content = content };
        request.Headers.TransferEncodingChunked = chunked ? true : null;
        request.Headers.Add(GitHubWebhook.SignatureHeader, WebhookSignature.Compute(Secret, big));
        request.Headers.Add(GitHubWebhook.EventHeader, "workflow_job");
        using HttpResponseMessage response = await http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using JsonDocument fault = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains("WebhookMaxBodyBytes", fault.RootElement.GetProperty("fault_message").GetString(), StringComparison.Ordinal);
    }

    /// <summary>The endpoint as the daemon serves it: anonymous, its secret from the named variable, each answer passed through.</summary>
    [Fact]
    public async Task Endpoint_ThroughTheRunnersHost_AnswersAsTheReceiver()
    {
        string env = "KINDLING_TEST_WEBHOOK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(env, Secret);
        try
        {
            await using var root = new KindlingWebFactory();
            using WebApplicationFactory<KindlingWebFactory> host = root.WithWebHostBuilder(b => b.ConfigureAppConfiguration(c => c.AddInMemoryCollection(
                new Dictionary<string, string?> { ["Kindling:Forge:GitHub:WebhookSecretEnv"] = env, ["Kindling:Forge:GitHub:WebhookMaxBodyBytes"] = "65536" })));
            using HttpClient http = host.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

            async Task<HttpStatusCode> Post(byte[] body, string signature)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                using var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/github") { Content = content };
                request.Headers.Add(GitHubWebhook.SignatureHeader, signature);
                request.Headers.Add(GitHubWebhook.EventHeader, "workflow_job");
                using HttpResponseMessage response = await http.SendAsync(request, Ct);
                return response.StatusCode;
            }

            byte[] queued = Encoding.UTF8.GetBytes(QueuedEvent);
            byte[] malformed = Encoding.UTF8.GetBytes("{\"action\":");
            byte[] big = new byte[Max + 1];
            Assert.Equal(HttpStatusCode.Accepted, await Post(queued, WebhookSignature.Compute(Secret, queued)));
            Assert.Equal(HttpStatusCode.Unauthorized, await Post(queued, WebhookSignature.Compute("guess", queued)));
            Assert.Equal(HttpStatusCode.BadRequest, await Post(malformed, WebhookSignature.Compute(Secret, malformed)));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await Post(big, WebhookSignature.Compute(Secret, big)));
        }
        finally
        {
            Environment.SetEnvironmentVariable(env, null);
        }
    }

    private sealed class ThrowingStream : MemoryStream
    {
        public int Reads { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Reads++;
            throw new InvalidOperationException("the body was read");
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Reads++;
            throw new InvalidOperationException("the body was read");
        }
    }

    private sealed class EndlessStream : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)'x', offset, count);
            BytesRead += count;
            return count;
        }
    }
}
