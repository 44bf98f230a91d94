using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Tests.Web;

/// <summary>The JSON API and the actions behind it, against real jobs on the stub launcher.</summary>
public sealed class AdminApiTests : IAsyncLifetime
{
    private readonly KindlingWebFactory _web = new();
    private HttpClient _admin = null!;

    public ValueTask InitializeAsync()
    {
        _admin = _web.Client(KindlingWebFactory.AdminToken);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _web.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using HttpResponseMessage r = await _admin.GetAsync(path, Ct);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return await r.Content.ReadFromJsonAsync<JsonElement>(Ct);
    }

    private static JobSpec Long(string name) => Specs.Steps(name, ("Wait", "echo waiting\nsleep 30\necho never"));

    [Fact]
    public async Task ApiJobs_Filters_ReturnMatchingJobsNewestFirst()
    {
        long a = await _web.SubmitAsync("acme", Specs.Steps("build", ("Ok", "echo ok")), "acme/app");
        long b = await _web.SubmitAsync("initech", Specs.Steps("fail", ("Boom", "exit 3")), "initech/tps");
        long c = await _web.SubmitAsync("acme", Specs.Steps("lib", ("Ok", "echo ok")), "acme/lib");
        foreach (long id in (long[])[a, b, c])
        {
            await _web.WaitCleanedAsync(id);
        }

        long[] Ids(JsonElement e) => [.. e.EnumerateArray().Select(j => j.GetProperty("id").GetInt64())];
        Assert.Equal([c, b, a], Ids(await GetJsonAsync("/api/jobs")));
        Assert.Equal([c, a], Ids(await GetJsonAsync("/api/jobs?tenant=acme")));
        Assert.Equal([b], Ids(await GetJsonAsync("/api/jobs?state=failed")));
        Assert.Equal([c], Ids(await GetJsonAsync("/api/jobs?repo=acme/lib")));
        Assert.Equal([c, a], Ids(await GetJsonAsync("/api/jobs?repo=acme/")));
        Assert.Equal([c], Ids(await GetJsonAsync("/api/jobs?limit=1")));
        Assert.Equal([b, a], Ids(await GetJsonAsync($"/api/jobs?before={c}")));
        JsonElement failed = (await GetJsonAsync($"/api/jobs?state=failed"))[0];
        Assert.Equal("cleaned", failed.GetProperty("state").GetString());
        Assert.Equal("failed", failed.GetProperty("result").GetString());
        Assert.Equal(3, failed.GetProperty("exit_code").GetInt32());
    }

    [Theory]
    [InlineData("/api/jobs?state=exploded", "state 'exploded' is unknown")]
    [InlineData("/api/jobs?limit=0", "limit 0 is out of range")]
    [InlineData("/api/jobs/999", "there is no job 999")]
    public async Task Api_BadRequest_SaysWhatToFix(string path, string message)
    {
        using HttpResponseMessage r = await _admin.GetAsync(path, Ct);
        Assert.True(r.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, r.StatusCode.ToString());
        JsonElement body = await r.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.StartsWith(message, body.GetProperty("fault_message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiJob_Finished_HasTimelineStepsAndVmConfig()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("two", ("First", "echo one"), ("Second", "exit 2")));
        await _web.WaitCleanedAsync(id);
        JsonElement d = await GetJsonAsync($"/api/jobs/{id}");
        Assert.Equal("failed", d.GetProperty("job").GetProperty("result").GetString());
        Assert.Equal(["queued", "preparing", "booting", "running", "failed", "cleaned"],
            d.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("to").GetString()));
        JsonElement[] steps = [.. d.GetProperty("steps").EnumerateArray()];
        Assert.Equal(["First", "Second"], steps.Select(s => s.GetProperty("name").GetString()));
        Assert.Equal([0, 2], steps.Select(s => s.GetProperty("exit_code").GetInt32()));
        Assert.Equal(["success", "failure"], steps.Select(s => s.GetProperty("outcome").GetString()));
        Assert.All(steps, s => Assert.True(s.GetProperty("started_at").GetDateTimeOffset() <= s.GetProperty("ended_at").GetDateTimeOffset()));
        Assert.True(steps[0].GetProperty("ended_at").GetDateTimeOffset() <= steps[1].GetProperty("started_at").GetDateTimeOffset());
        Assert.All(steps, s => Assert.True(s.GetProperty("seconds").GetDouble() >= 0));
        Assert.Equal(2, d.GetProperty("vm_config").GetProperty("machine-config").GetProperty("vcpu_count").GetInt32());
        Assert.True(d.GetProperty("rerunnable").GetBoolean());
        Assert.False(d.GetProperty("cancellable").GetBoolean());
    }

    [Fact]
    public async Task ApiVmsAndTenants_RunningJob_ShowPidAndUsageAgainstQuota()
    {
        long id = await _web.SubmitAsync("acme", Long("long"));
        await _web.WaitForAsync(id, j => j.Job.State == JobState.Running);
        int pid = _web.Store.Get(id)!.VmmPid!.Value;
        JsonElement vm = (await GetJsonAsync("/api/vms")).EnumerateArray().Single(v => v.GetProperty("pid").GetInt32() == pid);
        Assert.Equal($"kindling-vm-{id}", vm.GetProperty("vm_id").GetString());
        Assert.Equal(id, vm.GetProperty("job_id").GetInt64());
        Assert.Equal(2, vm.GetProperty("vcpus").GetInt32());
        Assert.Equal(512, vm.GetProperty("memory_mib").GetInt32());
        Assert.True(vm.GetProperty("uptime_seconds").GetDouble() >= 0);

        JsonElement acme = (await GetJsonAsync("/api/tenants")).EnumerateArray().Single(t => t.GetProperty("name").GetString() == "acme");
        Assert.Equal(1, acme.GetProperty("vms").GetInt32());
        Assert.Equal(4, acme.GetProperty("max_vms").GetInt32());
        Assert.Equal(2, acme.GetProperty("vcpus").GetInt32());
        Assert.Equal(["DEPLOY_KEY"], acme.GetProperty("secret_names").EnumerateArray().Select(s => s.GetString()));

        JsonElement host = (await GetJsonAsync("/api/overview")).GetProperty("host");
        Assert.Equal(16, host.GetProperty("vcpu_limit").GetInt32());
        Assert.Equal(2, host.GetProperty("used_vcpus").GetInt32());
        Assert.Equal(1, host.GetProperty("running_vms").GetInt32());
    }

    [Fact]
    public async Task Cancel_RunningJob_EndsCancelledAndStopsTheVm()
    {
        long id = await _web.SubmitAsync("acme", Long("cancel-me"));
        await _web.WaitForAsync(id, j => j.Job.State == JobState.Running);
        int pid = _web.Store.Get(id)!.VmmPid!.Value;
        using HttpResponseMessage r = await _admin.PostAsync($"/api/jobs/{id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        JobWithResult done = await _web.WaitCleanedAsync(id);
        Assert.Equal(JobState.Cancelled, done.Result);
        Assert.Contains(_web.Store.Transitions(id), t => t.To == JobState.Cancelled && t.Reason.Contains("admin token", StringComparison.Ordinal));
        Assert.False(Kindling.Runner.Launch.ProcessInspector.CommandLineContains(pid, $"kindling-vm-{id}"));
    }

    [Fact]
    public async Task Cancel_FinishedJob_Returns409()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("quick", ("Ok", "echo ok")));
        await _web.WaitCleanedAsync(id);
        using HttpResponseMessage r = await _admin.PostAsync($"/api/jobs/{id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        using HttpResponseMessage missing = await _admin.PostAsync("/api/jobs/424242/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Drain_QueuedJobWaits_UndrainAdmitsItAndCancelOfQueuedWorks()
    {
        (await _admin.PostAsync("/api/host/drain", null, Ct)).EnsureSuccessStatusCode();
        long waiting = await _web.SubmitAsync("acme", Specs.Steps("after-drain", ("Ok", "echo ok")));
        long dropped = await _web.SubmitAsync("acme", Specs.Steps("dropped", ("Ok", "echo ok")));
        Assert.Equal(JobState.Queued, _web.Store.Get(waiting)!.State);
        Assert.True((await GetJsonAsync("/api/host")).GetProperty("host").GetProperty("drained").GetBoolean());

        (await _admin.PostAsync($"/api/jobs/{dropped}/cancel", null, Ct)).EnsureSuccessStatusCode();
        Assert.Equal(JobState.Cancelled, (await _web.WaitCleanedAsync(dropped)).Result);

        (await _admin.PostAsync("/api/host/undrain", null, Ct)).EnsureSuccessStatusCode();
        Assert.Equal(JobState.Succeeded, (await _web.WaitCleanedAsync(waiting)).Result);
    }

    [Fact]
    public async Task Rerun_FailedJob_RunsItAgainAsANewJob()
    {
        long id = await _web.SubmitAsync("initech", Specs.Steps("flaky", ("Boom", "echo trying\nexit 1")), "initech/tps");
        await _web.WaitCleanedAsync(id);
        using HttpResponseMessage r = await _admin.PostAsync($"/api/jobs/{id}/rerun", null, Ct);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        long rerun = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("job_id").GetInt64();
        Assert.NotEqual(id, rerun);
        JobWithResult j = await _web.WaitCleanedAsync(rerun);
        Assert.Equal(("initech", "initech/tps", "flaky"), (j.Job.Tenant, j.Job.Repository, j.Job.Name));
        Assert.Equal(JobState.Failed, j.Result);
    }

    [Fact]
    public async Task Rerun_SucceededJob_Returns409()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("fine", ("Ok", "echo ok")));
        await _web.WaitCleanedAsync(id);
        using HttpResponseMessage r = await _admin.PostAsync($"/api/jobs/{id}/rerun", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
    }

    [Fact]
    public async Task Reap_OrphanWorkDirectory_IsRemoved()
    {
        string orphan = Path.Combine(_web.StateDirectory, "jobs", "9999");
        Directory.CreateDirectory(orphan);
        using HttpResponseMessage r = await _admin.PostAsync("/api/host/reap", null, Ct);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.False(Directory.Exists(orphan));
    }

    [Fact]
    public async Task LogDownload_FinishedJob_ReturnsTheWholeMaskedLog()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("log", ("Say", "echo first\necho key $DEPLOY_KEY\necho last")));
        await _web.WaitCleanedAsync(id);
        using HttpResponseMessage r = await _admin.GetAsync($"/api/jobs/{id}/log", Ct);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("attachment", r.Content.Headers.ContentDisposition?.DispositionType);
        string log = await r.Content.ReadAsStringAsync(Ct);
        Assert.Contains("first\nkey ***\nlast\n", log, StringComparison.Ordinal);
        Assert.Contains("##kindling[job-end result=succeeded exit=0]", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogStream_ChattyJob_DeliversEveryLineInOrderThenEnds()
    {
        const int lines = 20_000;
        // A loop, not 20,000 echo lines: a run script is one exec argument in the guest (at most 128 KiB).
        string run = $"i=0; while [ $i -lt {lines} ]; do echo \"line $i of a chatty job\"; i=$((i + 1)); done";
        long id = await _web.SubmitAsync("acme", Specs.Steps("chatty", ("Chatter", run)));
        await _web.WaitForAsync(id, j => j.Job.State is JobState.Booting or JobState.Running || JobLifecycle.IsFinished(j.Result));

        List<System.Net.ServerSentEvents.SseItem<string>> items = await SseReader.ReadUntilEndAsync(_admin, $"/jobs/{id}/log/stream", ct: Ct);
        string[] output = [.. SseReader.Lines(items).Where(l => l.StartsWith("line ", StringComparison.Ordinal))];
        Assert.Equal(lines, output.Length);
        Assert.Equal(Enumerable.Range(0, lines).Select(i => $"line {i} of a chatty job"), output);
        Assert.Contains(SseReader.Lines(items), l => l == "── job ended: succeeded (exit 0)");
        Assert.Equal("end", items[^1].EventType);
        Assert.Contains(items, i => i.EventType == "state" && i.Data.Contains("\"finished\":true", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LogStream_LastEventId_ResumesAfterThatOffset()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("resume", ("Say", "echo alpha\necho beta")));
        await _web.WaitCleanedAsync(id);
        List<System.Net.ServerSentEvents.SseItem<string>> all = await SseReader.ReadUntilEndAsync(_admin, $"/api/jobs/{id}/log/stream", ct: Ct);
        string log = await _admin.GetStringAsync($"/api/jobs/{id}/log", Ct);
        long afterAlpha = System.Text.Encoding.UTF8.GetByteCount(log[..(log.IndexOf("alpha\n", StringComparison.Ordinal) + "alpha\n".Length)]);
        List<System.Net.ServerSentEvents.SseItem<string>> rest = await SseReader.ReadUntilEndAsync(_admin, $"/api/jobs/{id}/log/stream",
            afterAlpha.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct);
        Assert.Contains("alpha", SseReader.Lines(all));
        Assert.DoesNotContain("alpha", SseReader.Lines(rest));
        Assert.Equal("beta", SseReader.Lines(rest)[0]);
    }

    [Fact]
    public async Task Metrics_ReadOnlyToken_ExposesPrometheusGauges()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("m", ("Ok", "echo ok")));
        await _web.WaitCleanedAsync(id);
        string text = await _web.Client(KindlingWebFactory.ReadOnlyToken).GetStringAsync("/metrics", Ct);
        Assert.Contains("kindling_host_vcpus{", text, StringComparison.Ordinal);
        Assert.Contains("kindling_host_memory_bytes{", text, StringComparison.Ordinal);
        string jobs = string.Join('\n', text.Split('\n').Where(l => l.StartsWith("kindling_jobs_current", StringComparison.Ordinal)));
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(text, "kindling_jobs_current\\{[^}]*state=\"succeeded\"[^}]*\\} 1"),
            $"jobs_current lines:\n{jobs}\njob {id}: {string.Join("; ", _web.Store.Transitions(id).Select(t => $"{t.From}→{t.To}: {t.Reason}"))}");
        Assert.Matches("kindling_tenant_vms_quota\\{[^}]*tenant=\"acme\"[^}]*\\} 4", text);
        Assert.Contains("kindling_jobs_transitions_total{", text, StringComparison.Ordinal);
    }

    /// <summary>Two runners in one process (as the tests' web hosts are): each one's /metrics shows its own jobs only.</summary>
    [Fact]
    public async Task Metrics_TwoRunnersInOneProcess_EachExportsOnlyItsOwnGauges()
    {
        await using var other = new KindlingWebFactory();
        long mine = await _web.SubmitAsync("acme", Specs.Steps("m", ("Ok", "echo ok")));
        await _web.WaitCleanedAsync(mine);
        foreach (string name in (string[])["o1", "o2", "o3"])
        {
            await other.WaitCleanedAsync(await other.SubmitAsync("acme", Specs.Steps(name, ("Ok", "echo ok"))));
        }

        for (int scrape = 0; scrape < 5; scrape++)
        {
            string a = await _web.Client(KindlingWebFactory.ReadOnlyToken).GetStringAsync("/metrics", Ct);
            string b = await other.Client(KindlingWebFactory.ReadOnlyToken).GetStringAsync("/metrics", Ct);
            Assert.Single(a.Split('\n'), l => System.Text.RegularExpressions.Regex.IsMatch(l, "^kindling_jobs_current\\{[^}]*state=\"succeeded\"[^}]*\\} 1( |$)"));
            Assert.Single(b.Split('\n'), l => System.Text.RegularExpressions.Regex.IsMatch(l, "^kindling_jobs_current\\{[^}]*state=\"succeeded\"[^}]*\\} 3( |$)"));
        }
    }

    [Fact]
    public async Task ApiImages_AfterAJob_ListsKernelAndBaseWithHashes()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("img", ("Ok", "echo ok")));
        await _web.WaitCleanedAsync(id);
        JsonElement[] images = [.. (await GetJsonAsync("/api/images")).EnumerateArray()];
        Assert.Equal(["base", "kernel"], images.Select(i => i.GetProperty("kind").GetString()).Order());
        Assert.All(images, i => Assert.Equal(64, i.GetProperty("sha256").GetString()!.Length));
    }
}
