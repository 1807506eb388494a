using System.Text.Json;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Management.Http.Tests;
using Polynic.Modules;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// Broken modules given to a running <c>polynic serve</c> — at start in its modules directory and
/// again over its control socket — while it serves an e1000 to a real guest: each is refused with
/// a message naming its file and the problem, and the guest's traffic never stops. The server's
/// <c>/metrics</c>, scraped while the guest pings, passes <c>promtool check metrics</c> and counts the
/// guest's frames as the guest itself does.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class BrokenModuleTests(RigFixture rig, ITestOutputHelper output)
{
    private const string Header = """
        using System;
        using Polynic.Core.Modules;
        using Polynic.Core.Pci;

        """;

    /// <summary>A descriptor whose second register lies beyond its 32-byte BAR (line 6).</summary>
    private const string BadDescriptor = """
        <personality xmlns="urn:polynic:personality:1" name="baddesc" description="register out of its BAR">
          <pci vendor="0x1234" device="0x5A10" class="0x020000"/>
          <bar index="0" kind="io" size="32"/>
          <registers bar="0">
            <register name="CTRL" offset="0x0"/>
            <register name="FAR" offset="0x40"/>
          </registers>
        </personality>
        """;

    private const string ThrowingConstructor = Header + """
        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]
        public sealed class ThrowingFactory : IPersonalityFactory
        {
            public ThrowingFactory() => throw new InvalidOperationException("licence file /etc/acme.lic missing");
            public string Name => "throwing";
            public string Description => "never constructed";
            public IPciDevice Create(PersonalitySettings settings) => throw new NotSupportedException();
        }
        """;

    private const string OtherSdkMajor = Header + """
        [assembly: PolynicModule(2, 0)]
        public sealed class FutureFactory : IPersonalityFactory
        {
            public FutureFactory() => throw new InvalidOperationException("must never run: refused before");
            public string Name => "future";
            public string Description => "built for SDK 2";
            public IPciDevice Create(PersonalitySettings settings) => throw new NotSupportedException();
        }
        """;

    /// <summary>One error: the unknown name <c>helo</c> on line 7, column 35.</summary>
    private const string DoesNotCompile = Header + """
        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]
        public sealed class Greeter
        {
            public string Text() { return helo; }
        }
        """;

    /// <summary>Loads fine; creating a device throws (a fault at run time, not at load).</summary>
    private const string ThrowsWhenCreating = Header + """
        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]
        public sealed class ExplodingFactory : IPersonalityFactory
        {
            public string Name => "exploding";
            public string Description => "throws when a NIC is created";
            public IPciDevice Create(PersonalitySettings settings) => throw new InvalidOperationException("no more widgets");
        }
        """;

    [Fact]
    public async Task Each_broken_module_is_refused_naming_its_file_and_problem_while_the_server_serves_a_guest()
    {
        await PolynicProcess.EnsureBuiltAsync();
        var image = await rig.Rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-broken-");
        try
        {
            string modules = Path.Combine(work.FullName, "modules");
            string spare = Path.Combine(work.FullName, "spare");
            Directory.CreateDirectory(modules);
            Directory.CreateDirectory(spare);
            var files = new Dictionary<string, string>
            {
                ["baddesc.xml"] = BadDescriptor,
                ["throwing.cs"] = ThrowingConstructor,
                ["broken.cs"] = DoesNotCompile,
                ["exploding.cs"] = ThrowsWhenCreating,
            };
            foreach (var (name, text) in files) File.WriteAllText(Path.Combine(modules, name), text);
            // A *compiled* module built against SDK 2.0: compiled here, written as a .dll.
            File.WriteAllText(Path.Combine(spare, "future.cs"), OtherSdkMajor);
            var future = new SourceModuleCompiler(Path.Combine(work.FullName, "cache")).Compile(Path.Combine(spare, "future.cs"));
            Assert.NotNull(future.Image);
            File.WriteAllBytes(Path.Combine(modules, "future.dll"), future.Image);

            string tokenFile = Path.Combine(work.FullName, "http.token");
            await using var server = await PolynicProcess.ServeAsync(Path.Combine(work.FullName, "control.sock"), modules,
                "--http", "127.0.0.1:0", "--http-token-file", tokenFile);
            using var api = new HttpClient { BaseAddress = server.HttpApi ?? throw new InvalidOperationException("no HTTP API line in:\n" + server.Output) };
            api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(tokenFile).Trim());
            string Path_(string name) => Path.Combine(modules, name);
            var expected = new (string File, string Problem)[]
            {
                ("baddesc.xml", "baddesc.xml:6:"),
                ("baddesc.xml", "FAR: ends beyond the 32-byte register file"),
                ("throwing.cs", "threw InvalidOperationException: licence file /etc/acme.lic missing"),
                ("future.dll", $"built for Polynic SDK 2.0, this server provides SDK {Polynic.Core.Modules.PolynicSdk.Version}"),
                ("broken.cs", "broken.cs:7:35: error CS0103"),
            };
            // At start: one line per module, the broken ones with file and reason.
            foreach (var (file, problem) in expected)
                Assert.Contains(server.Output.Split('\n'), line => line.Contains(Path_(file), StringComparison.Ordinal) && line.Contains(problem, StringComparison.Ordinal));

            var list = JsonDocument.Parse(await server.ManageCheckedAsync("modules", "list")).RootElement.EnumerateArray()
                .ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("state").GetString());
            Assert.Equal("failed", list["baddesc"]);
            Assert.Equal("failed", list["throwing"]);
            Assert.Equal("incompatible", list["future"]);
            Assert.Equal("failed", list["broken"]);
            Assert.Equal("loaded", list["exploding"]);

            // The server serves an e1000 to a guest regardless.
            await server.ManageCheckedAsync("modules", "load", PolynicProcess.Module("Polynic.Personalities.E1000"));
            string socket = Path.Combine(work.FullName, "nic0.sock");
            await server.ManageCheckedAsync("nics", "add", $"e1000:{socket},name=nic0,tap=pnbroken0,mac=52:54:00:b0:00:01");
            await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            await peer.AdoptAsync("pnbroken0", "10.77.252.1/24");
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "broken", VfioUserSockets = [socket] });
            await guest.RunCheckedAsync("ip link set eth0 up && ip addr add 10.77.252.2/24 dev eth0 && " + Lan.LanRig.WaitForCarrier(1), TimeSpan.FromSeconds(30));
            var pinging = guest.RunCheckedAsync("ping -c 100 -i 0.05 -W 2 10.77.252.1", TimeSpan.FromMinutes(2));
            var during = await ScrapeWhileTrafficAsync(api);
            await AssertLiveCaptureShowsThePingsAsync(api);

            // While the guest pings: the broken modules again, over the control socket.
            foreach (var (file, problem) in expected)
            {
                var (code, text) = await server.ManageAsync("modules", "load", Path_(file));
                Assert.True(code == 1, text);
                Assert.Contains(Path_(file), text);
                Assert.Contains(problem, text);
                (code, text) = await server.ManageAsync("modules", "validate", Path_(file));
                Assert.True(code == 1, text);
                Assert.Contains(problem, text);
            }
            // A module that faults when asked for a device: only that NIC is refused, with the reason.
            var (addCode, addText) = await server.ManageAsync("nics", "add", $"exploding:{Path.Combine(work.FullName, "x.sock")},name=boom");
            Assert.True(addCode == 1, addText);
            Assert.Contains("module 'exploding' failed to create a device: no more widgets", addText);
            var (unknownCode, unknownText) = await server.ManageAsync("nics", "add", $"throwing:{Path.Combine(work.FullName, "y.sock")}");
            Assert.True(unknownCode == 1, unknownText);
            Assert.Contains("no loaded module provides personality 'throwing'", unknownText);

            // And over the HTTP API, with the requests an attacker or a confused client sends.
            await HttpApiAbuseAsync(api, Path_("broken.cs"), work.FullName);

            PingOutput.AssertAllAnswered(await pinging, 100);
            await AssertMetricsAgreeWithTheGuestAsync(api, guest, during);
            var overHttp = JsonDocument.Parse(await api.GetStringAsync("api/v1/nics/nic0")).RootElement;
            Assert.Equal("serving", overHttp.GetProperty("state").GetString());
            Assert.True(overHttp.GetProperty("connected").GetBoolean());
            var nics = JsonDocument.Parse(await server.ManageCheckedAsync("nics", "list")).RootElement;
            var nic = Assert.Single(nics.EnumerateArray());
            Assert.Equal("serving", nic.GetProperty("state").GetString());
            Assert.True(nic.GetProperty("connected").GetBoolean());
            Assert.False(server.HasExited);
            await guest.DisposeAsync();
            int exitCode = await server.StopAsync();
            output.WriteLine(server.Output);
            Assert.True(exitCode == 0, $"polynic serve exited with {exitCode} on SIGTERM:\n{server.Output}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static readonly (string, string)[] Nic0 = [("nic", "nic0"), ("personality", "e1000")];

    /// <summary>
    /// The live capture of nic0 over HTTP, piped into tshark as it arrives for 1.5 s while the guest
    /// pings: tshark decodes the guest's echo requests and the peer's replies from the stream.
    /// </summary>
    private async Task AssertLiveCaptureShowsThePingsAsync(HttpClient api)
    {
        using var response = await api.GetAsync("api/v1/nics/nic0/capture/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-pcapng", response.Content.Headers.ContentType?.MediaType);
        var start = new System.Diagnostics.ProcessStartInfo("tshark", ["-r", "-", "-n", "-Y", "icmp", "-T", "fields", "-e", "icmp.type"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var tshark = System.Diagnostics.Process.Start(start)!;
        var stdout = tshark.StandardOutput.ReadToEndAsync();
        var stderr = tshark.StandardError.ReadToEndAsync();
        await using (var stream = await response.Content.ReadAsStreamAsync())
        using (var reading = new CancellationTokenSource(TimeSpan.FromSeconds(1.5)))
        {
            try { await stream.CopyToAsync(tshark.StandardInput.BaseStream, reading.Token); }
            catch (OperationCanceledException) { }
        }
        tshark.StandardInput.Close();
        await tshark.WaitForExitAsync();
        var types = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        output.WriteLine($"live capture over HTTP, 1.5 s piped into tshark: {types.Count(t => t == "8")} echo requests, {types.Count(t => t == "0")} replies (tshark exit {tshark.ExitCode})");
        // The stream is cut wherever the reading stopped: tshark says the last block is cut short (exit 2).
        Assert.True(tshark.ExitCode is 0 or 2, $"tshark -r - failed ({tshark.ExitCode}): {await stderr}");
        Assert.Contains("8", types);
        Assert.Contains("0", types);
    }

    /// <summary>Scrapes /metrics until nic0 has frames both ways (the guest is pinging), then has promtool check that scrape.</summary>
    private async Task<PrometheusScrape> ScrapeWhileTrafficAsync(HttpClient api)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        PrometheusScrape scrape;
        while (true)
        {
            scrape = PrometheusScrape.Parse(await api.GetStringAsync("metrics"));
            if (scrape.Value("polynic_nic_received_frames_total", Nic0) > 0 && scrape.Value("polynic_nic_transmitted_frames_total", Nic0) > 0) break;
            Assert.True(DateTime.UtcNow < deadline, "nic0 moved no frames in 30 s of pinging:\n" + scrape.Text);
            await Task.Delay(100);
        }
        var (exitCode, promtool) = await Promtool.CheckMetricsAsync(scrape.Text);
        output.WriteLine($"promtool check metrics on a scrape taken while the guest pinged: exit {exitCode} {promtool}");
        Assert.True(exitCode == 0, $"promtool check metrics (exit {exitCode}): {promtool}\n{scrape.Text}");
        Assert.Equal(1, scrape.Value("polynic_vfio_user_client_connected", Nic0));
        return scrape;
    }

    /// <summary>
    /// After the pings: the scraped frame counters moved up from <paramref name="during"/> and agree
    /// with the guest's own statistics, within a few frames (ARP, IPv6 neighbour discovery in flight).
    /// </summary>
    private async Task AssertMetricsAgreeWithTheGuestAsync(HttpClient api, Polynic.Rig.Guests.Guest guest, PrometheusScrape during)
    {
        const int Slack = 5;
        // Linux e1000 copies the card's statistics registers into its counters every 2 s (watchdog).
        await Task.Delay(TimeSpan.FromSeconds(3));
        var guestStats = (await guest.RunCheckedAsync("cat /sys/class/net/eth0/statistics/rx_packets /sys/class/net/eth0/statistics/tx_packets", TimeSpan.FromSeconds(10)))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        var after = PrometheusScrape.Parse(await api.GetStringAsync("metrics"));
        long rx = after.Value("polynic_nic_received_frames_total", Nic0), tx = after.Value("polynic_nic_transmitted_frames_total", Nic0);
        long rxDuring = during.Value("polynic_nic_received_frames_total", Nic0), txDuring = during.Value("polynic_nic_transmitted_frames_total", Nic0);
        output.WriteLine($"nic0 frames: scraped while pinging rx {rxDuring} tx {txDuring}; after rx {rx} tx {tx}; the guest's eth0 rx_packets {guestStats[0]} tx_packets {guestStats[1]}");
        Assert.True(rx > rxDuring && tx > txDuring, $"counters did not move up: rx {rxDuring} -> {rx}, tx {txDuring} -> {tx}");
        Assert.True(rx >= 100 && tx >= 100, $"100 pings answered but rx {rx}, tx {tx}");
        Assert.InRange(rx - guestStats[0], -Slack, Slack);
        Assert.InRange(tx - guestStats[1], -Slack, Slack);
    }

    /// <summary>
    /// Refused requests over the HTTP API of a serving process: each gets its status and a
    /// problem+json body, and none adds, removes or loads anything.
    /// </summary>
    private static async Task HttpApiAbuseAsync(HttpClient api, string brokenModule, string work)
    {
        async Task Expect(HttpResponseMessage response, System.Net.HttpStatusCode status, string? contains = null)
        {
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            if (contains is not null) Assert.Contains(contains, body);
        }
        StringContent Json(string text) => new(text, System.Text.Encoding.UTF8, "application/json");
        string spec = $"{{\"spec\":\"e1000:{work}/http.sock,unplugged,name=intruder\"}}";

        using (var anonymous = new HttpClient { BaseAddress = api.BaseAddress })
            await Expect(await anonymous.PostAsync("api/v1/nics", Json(spec)), System.Net.HttpStatusCode.Unauthorized);
        var crossOrigin = new HttpRequestMessage(HttpMethod.Post, "api/v1/nics") { Content = Json(spec) };
        crossOrigin.Headers.Add("Origin", "http://attacker.example");
        await Expect(await api.SendAsync(crossOrigin), System.Net.HttpStatusCode.Forbidden);
        var rebound = new HttpRequestMessage(HttpMethod.Post, "api/v1/nics") { Content = Json(spec) };
        rebound.Headers.Host = $"attacker.example:{api.BaseAddress!.Port}";
        await Expect(await api.SendAsync(rebound), System.Net.HttpStatusCode.MisdirectedRequest);
        await Expect(await api.PostAsync("api/v1/nics", Json("{\"spec\":")), System.Net.HttpStatusCode.BadRequest);
        await Expect(await api.PostAsync("api/v1/nics", Json($"{{\"spec\":\"{new string('x', 200_000)}\"}}")), System.Net.HttpStatusCode.RequestEntityTooLarge);
        await Expect(await api.DeleteAsync("api/v1/nics/nosuch"), System.Net.HttpStatusCode.NotFound, "nosuch");
        await Expect(await api.PostAsync("api/v1/modules", Json($"{{\"path\":\"{brokenModule}\"}}")), System.Net.HttpStatusCode.UnprocessableEntity, "error CS0103");
        var names = JsonDocument.Parse(await api.GetStringAsync("api/v1/nics")).RootElement.EnumerateArray().Select(n => n.GetProperty("name").GetString()).ToList();
        Assert.Equal(["nic0"], names);
    }
}
