using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// The live side of the API against a real server host: a NIC on a UDP (QEMU dgram) port gets
/// frames from a socket the test holds; its detail, its link toggle, captures to a file and a live
/// capture stream, and the event stream that reports all of it.
/// </summary>
public sealed class LiveStateTests
{
    private static readonly byte[] NicMac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    [Fact]
    public async Task A_nic_fed_over_udp_shows_its_detail_follows_its_link_toggle_and_is_captured_and_every_change_is_an_event()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var client = server.Client;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);
        using var events = await EventStream.OpenAsync(server);

        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int peerPort = ((IPEndPoint)peer.LocalEndPoint!).Port;
        int nicPort = FreeUdpPort();
        var added = await client.PostAsJsonAsync("api/v1/nics",
            new { spec = $"e1000:{server.Work}/vm1.sock,dgram=127.0.0.1:{nicPort}>127.0.0.1:{peerPort},name=vm1,mac=52:54:00:12:34:56" });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        await events.ExpectAsync("nic-added", "vm1");

        var detail = await client.GetFromJsonAsync<JsonElement>("api/v1/nics/vm1/detail");
        Assert.Equal("8086", detail.GetProperty("pci").GetProperty("vendorId").GetString());
        Assert.Equal("100e", detail.GetProperty("pci").GetProperty("deviceId").GetString());
        Assert.Equal("52:54:00:12:34:56", detail.GetProperty("mac").GetString());
        Assert.False(detail.GetProperty("connected").GetBoolean());
        Assert.Equal(0, detail.GetProperty("dmaRegions").GetInt32());
        Assert.Equal("intx", detail.GetProperty("interrupts").GetProperty("mode").GetString());
        Assert.True(detail.GetProperty("link").GetProperty("up").GetBoolean());
        Assert.Equal("dgram", detail.GetProperty("portLayers")[0].GetProperty("kind").GetString());

        // No driver has enabled the receiver: each frame that reaches the NIC is counted as such.
        var nicEndpoint = new IPEndPoint(IPAddress.Loopback, nicPort);
        var capture = await client.PostAsJsonAsync("api/v1/captures", new { nic = "vm1" });
        Assert.Equal(HttpStatusCode.Created, capture.StatusCode);
        string captureId = (await capture.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await events.ExpectAsync("capture-started", "vm1");
        using var live = await LiveCapture.OpenAsync(client, "api/v1/nics/vm1/capture/live");
        for (int i = 0; i < 5; i++) peer.SendTo(Frame(sequence: i), nicEndpoint);
        await WaitForAsync(async () => (await Counter(client, "rx_disabled")) == 5, "5 frames counted by the NIC");

        // Cable out: the guest's link goes down and nothing reaches the NIC; back in, frames flow again.
        var down = await client.PutAsJsonAsync("api/v1/nics/vm1/link", new { up = false });
        Assert.Equal(HttpStatusCode.OK, down.StatusCode);
        var link = (await down.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("link");
        Assert.False(link.GetProperty("up").GetBoolean());
        Assert.False(link.GetProperty("cable").GetBoolean());
        Assert.True(link.GetProperty("carrier").GetBoolean());
        await events.ExpectAsync("link-changed", "vm1", "down");
        peer.SendTo(Frame(sequence: 100), nicEndpoint);
        await Task.Delay(300);
        Assert.Equal(5, await Counter(client, "rx_disabled"));
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("api/v1/nics/vm1/link", new { up = true })).StatusCode);
        await events.ExpectAsync("link-changed", "vm1", "up");
        peer.SendTo(Frame(sequence: 6), nicEndpoint);
        await WaitForAsync(async () => (await Counter(client, "rx_disabled")) == 6, "the frame after the cable went back in");

        // The file capture saw every frame the port delivered (the one sent while the cable was out
        // too: the capture sits on the port's side of the cable), downloadable while it runs.
        var running = await client.GetAsync($"api/v1/captures/{captureId}/pcapng");
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        Assert.Equal("application/x-pcapng", running.Content.Headers.ContentType?.MediaType);
        var stopped = await client.PostAsync($"api/v1/captures/{captureId}/stop", null);
        var stoppedInfo = await stopped.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("stopped", stoppedInfo.GetProperty("state").GetString());
        Assert.Equal(7, stoppedInfo.GetProperty("packets").GetInt64());
        await events.ExpectAsync("capture-stopped", "vm1");
        string file = Path.Combine(server.Work, "download.pcapng");
        await File.WriteAllBytesAsync(file, await client.GetByteArrayAsync($"api/v1/captures/{captureId}/pcapng"));
        Assert.Equal(["0", "1", "2", "3", "4", "100", "6"], Sequences(file));

        // The live stream carried the same frames as they passed, as a pcapng stream tshark reads.
        string streamed = Path.Combine(server.Work, "live.pcapng");
        await File.WriteAllBytesAsync(streamed, await live.StopAsync());
        Assert.Equal(["0", "1", "2", "3", "4", "100", "6"], Sequences(streamed));
        await events.ExpectAsync("capture-stopped", "vm1", "live");

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"api/v1/captures/{captureId}")).StatusCode);
        Assert.Empty(await client.GetFromJsonAsync<JsonElement[]>("api/v1/captures") ?? []);
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync("api/v1/nics/vm1")).StatusCode);
        await events.ExpectAsync("nic-removed", "vm1");
    }

    [Fact]
    public async Task Captures_links_and_details_of_what_does_not_exist_are_refused_with_a_message()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var client = server.Client;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/u.sock,unplugged,name=u" })).StatusCode);

        await ResourceTests.AssertProblemAsync(await client.GetAsync("api/v1/nics/nope/detail"), HttpStatusCode.NotFound, "nope");
        await ResourceTests.AssertProblemAsync(await client.PutAsJsonAsync("api/v1/nics/nope/link", new { up = false }), HttpStatusCode.NotFound, "nope");
        await ResourceTests.AssertProblemAsync(await client.PutAsJsonAsync("api/v1/nics/u/link", new { }), HttpStatusCode.BadRequest, "");
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/captures", new { nic = "nope" }), HttpStatusCode.NotFound, "nope");
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/captures", new { nic = "u" }), HttpStatusCode.Conflict, "no port");
        await ResourceTests.AssertProblemAsync(await client.GetAsync("api/v1/nics/u/capture/live"), HttpStatusCode.Conflict, "no port");
        await ResourceTests.AssertProblemAsync(await client.GetAsync("api/v1/captures/nope/pcapng"), HttpStatusCode.NotFound, "nope");
        await ResourceTests.AssertProblemAsync(await client.PostAsync("api/v1/captures/nope/stop", null), HttpStatusCode.NotFound, "nope");
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/d.sock,dgram=127.0.0.1:1" }), HttpStatusCode.BadRequest, "LOCAL>REMOTE");
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/d.sock,switch=lan,vlan=5000" }), HttpStatusCode.BadRequest, "1-4094");
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/d.sock,tap=pn9,switch=lan" }), HttpStatusCode.BadRequest, "more than one port");
        // Names become capture file names, metrics labels and log lines: the schema's rule, inline too.
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/d.sock,unplugged,name=../../etc/evil" }), HttpStatusCode.BadRequest, "a name is a letter");
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/d.sock,switch=la n" }), HttpStatusCode.BadRequest, "a name is a letter");

        // An unplugged NIC: no carrier, so its cable going in changes nothing the guest sees.
        var detail = await client.GetFromJsonAsync<JsonElement>("api/v1/nics/u/detail");
        Assert.False(detail.GetProperty("link").GetProperty("up").GetBoolean());
        Assert.False(detail.TryGetProperty("portCounters", out _));
        Assert.Equal(["u"], await server.NicNamesAsync());
    }

    [Fact]
    public async Task Event_streams_and_captures_beyond_their_limits_are_refused_with_a_message_and_admitted_again_once_one_closes()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var client = server.Client;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/nics",
            new { spec = $"e1000:{server.Work}/vm1.sock,dgram=127.0.0.1:{FreeUdpPort()}>127.0.0.1:9,name=vm1" })).StatusCode);

        // Every reader holds a bounded queue: past the limit a new reader is told why, and a
        // reader that hangs up makes room for the next.
        var streams = new List<EventStream>();
        try
        {
            for (int i = 0; i < Hosting.ServerEvents.MaxSubscribers; i++) streams.Add(await EventStream.OpenAsync(server));
            await ResourceTests.AssertProblemAsync(await client.GetAsync("api/v1/events", HttpCompletionOption.ResponseHeadersRead),
                HttpStatusCode.Conflict, $"{Hosting.ServerEvents.MaxSubscribers} event streams are open already");
            streams[0].Dispose();
            streams.RemoveAt(0);
            await WaitForAsync(async () =>
            {
                using var retry = await client.GetAsync("api/v1/events", HttpCompletionOption.ResponseHeadersRead);
                return retry.StatusCode == HttpStatusCode.OK;
            }, "an event stream after one hung up");
        }
        finally
        {
            foreach (var s in streams) s.Dispose();
        }

        // Running captures are bounded (each holds a writer and an open file)...
        var ids = new List<string>();
        for (int i = 0; i < Hosting.CaptureSessions.MaxRunning; i++) ids.Add(await StartCaptureAsync(client));
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/captures", new { nic = "vm1" }),
            HttpStatusCode.Conflict, $"{Hosting.CaptureSessions.MaxRunning} captures are running already");
        await ResourceTests.AssertProblemAsync(await client.GetAsync("api/v1/nics/vm1/capture/live", HttpCompletionOption.ResponseHeadersRead),
            HttpStatusCode.Conflict, "captures are running already");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"api/v1/captures/{ids[0]}/stop", null)).StatusCode);
        ids.Add(await StartCaptureAsync(client));

        // ...and so are kept files: starting and stopping in a loop cannot fill the disk.
        foreach (var id in ids) Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"api/v1/captures/{id}/stop", null)).StatusCode);
        while (ids.Count < Hosting.CaptureSessions.MaxKept)
        {
            string id = await StartCaptureAsync(client);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"api/v1/captures/{id}/stop", null)).StatusCode);
            ids.Add(id);
        }
        await ResourceTests.AssertProblemAsync(await client.PostAsJsonAsync("api/v1/captures", new { nic = "vm1" }),
            HttpStatusCode.Conflict, $"{Hosting.CaptureSessions.MaxKept} captures are kept already");
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"api/v1/captures/{ids[0]}")).StatusCode);
        await StartCaptureAsync(client);
        Assert.Equal(Hosting.CaptureSessions.MaxKept, (await client.GetFromJsonAsync<JsonElement[]>("api/v1/captures"))!.Length);
    }

    private static async Task<string> StartCaptureAsync(HttpClient client)
    {
        var started = await client.PostAsJsonAsync("api/v1/captures", new { nic = "vm1" });
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        return (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task Nics_named_on_a_switch_make_it_and_the_switch_lists_its_ports_and_vlans()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var client = server.Client;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/a.sock,switch=lan,vlan=10,name=a" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/b.sock,switch=lan,trunk=10+20,name=b" })).StatusCode);

        var switches = await client.GetFromJsonAsync<JsonElement>("api/v1/switches");
        var lan = Assert.Single(switches.EnumerateArray());
        Assert.Equal("lan", lan.GetProperty("name").GetString());
        var ports = lan.GetProperty("ports").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        Assert.Equal("access", ports["lan:a"].GetProperty("mode").GetString());
        Assert.Equal(10, ports["lan:a"].GetProperty("vlan").GetInt32());
        Assert.Equal("trunk", ports["lan:b"].GetProperty("mode").GetString());
        Assert.Equal([10, 20], ports["lan:b"].GetProperty("trunk").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(0, lan.GetProperty("macTable").GetArrayLength());
    }

    /// <summary>An Ethernet frame to the NIC whose last payload byte numbers it (tshark shows it as data.data).</summary>
    private static byte[] Frame(int sequence)
    {
        var frame = new byte[60];
        NicMac.CopyTo(frame, 0);
        byte[] source = [0x02, 0, 0, 0, 0, 0x09];
        source.CopyTo(frame, 6);
        frame[12] = 0x88;
        frame[13] = 0xB5;   // IEEE local experimental EtherType: tshark shows the payload as data
        frame[14] = (byte)sequence;
        return frame;
    }

    private static string[] Sequences(string file)
    {
        var start = new ProcessStartInfo("tshark", ["-r", file, "-n", "-T", "fields", "-e", "data.data"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new Xunit.Sdk.XunitException($"tshark is not installed (apt-get install tshark; CI's .ci/run installs it): {e.Message}"); }
        using (process)
        {
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"tshark -r {file} failed ({process.ExitCode}): {error}");
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(hex => Convert.ToInt32(hex[..2], 16).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
    }

    private static async Task<long> Counter(HttpClient client, string name) =>
        (await client.GetFromJsonAsync<JsonElement>("api/v1/nics/vm1/detail")).GetProperty("counters").GetProperty(name).GetInt64();

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"waited 10 s for {what}");
            await Task.Delay(50);
        }
    }

    private static int FreeUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>The server-sent event stream, read line by line as a browser's reader would.</summary>
    private sealed class EventStream : IDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;

        private EventStream(HttpResponseMessage response, StreamReader reader)
        {
            _response = response;
            _reader = reader;
        }

        public static async Task<EventStream> OpenAsync(ApiServerFixture server)
        {
            var response = await server.Client.GetAsync("api/v1/events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var stream = new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
            // The first event says the stream follows: nothing that happens after it is missed.
            await stream.ExpectAsync("hello", null);
            return stream;
        }

        /// <summary>Reads events until one of <paramref name="type"/> for <paramref name="nic"/> (and with <paramref name="detail"/>) arrives.</summary>
        public async Task ExpectAsync(string type, string? nic, string? detail = null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var seen = new List<string>();
            string? eventType = null;
            while (true)
            {
                string? line;
                try { line = await _reader.ReadLineAsync(timeout.Token); }
                catch (OperationCanceledException) { throw new Xunit.Sdk.XunitException($"no '{type}' event for {nic} in 10 s; saw: {string.Join(" | ", seen)}"); }
                if (line is null) throw new Xunit.Sdk.XunitException($"the event stream ended before '{type}'; saw: {string.Join(" | ", seen)}");
                if (line.StartsWith("event: ", StringComparison.Ordinal)) eventType = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    seen.Add($"{eventType} {line[6..]}");
                    var data = JsonDocument.Parse(line[6..]).RootElement;
                    Assert.Equal(eventType, data.GetProperty("type").GetString());
                    if (eventType == type
                        && (nic is null || (data.TryGetProperty("nic", out var n) && n.GetString() == nic))
                        && (detail is null || (data.TryGetProperty("detail", out var d) && d.GetString() == detail)))
                        return;
                }
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _response.Dispose();
        }
    }

    /// <summary>A live capture read in the background until stopped.</summary>
    private sealed class LiveCapture : IDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<byte[]> _reading;

        private LiveCapture(HttpResponseMessage response)
        {
            _response = response;
            _reading = ReadAsync();
        }

        public static async Task<LiveCapture> OpenAsync(HttpClient client, string path)
        {
            var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/x-pcapng", response.Content.Headers.ContentType?.MediaType);
            var capture = new LiveCapture(response);
            // The section header arrives at once: the capture is attached from here on.
            await WaitForAsync(() => Task.FromResult(capture._received.Length > 0), "the live capture's section header");
            return capture;
        }

        private readonly MemoryStream _received = new();

        private async Task<byte[]> ReadAsync()
        {
            var stream = await _response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            try
            {
                int n;
                while ((n = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                    lock (_received) _received.Write(buffer, 0, n);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
            lock (_received) return _received.ToArray();
        }

        /// <summary>Waits for the frames written so far to arrive (the writer flushes every 200 ms), then hangs up.</summary>
        public async Task<byte[]> StopAsync()
        {
            await Task.Delay(1000);
            await _stop.CancelAsync();
            _response.Dispose();
            return await _reading;
        }

        public void Dispose()
        {
            _stop.Cancel();
            _response.Dispose();
            _stop.Dispose();
        }
    }
}
