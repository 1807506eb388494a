using System.Net;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Ports;
using Polynic.Ports.Switching;
using Xunit.Abstractions;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// GET /metrics against a server host whose e1000 moved frames: an in-process guest driver
/// transmits through the NIC into a switch and receives what another switch port sends. The
/// scrape must say what the NIC's own counters say, pass the API's access policy and pass
/// <c>promtool check metrics</c>.
/// </summary>
public sealed class MetricsTests(ITestOutputHelper output)
{
    private const int Sent = 5;
    private const int Injected = 7;
    private static readonly MacAddress NicMac = MacAddress.FromUInt64(0x52_54_00_12_34_56);

    private static PolynicConfiguration OneNicOnASwitch(string work) => new("test", null,
        [new SwitchConfiguration("lan", TimeSpan.FromMinutes(5))],
        [new NicConfiguration("vm1", "e1000", Path.Combine(work, "vm1.sock"), NicMac, [], new SwitchPortConfiguration("lan", 1, null), null, 0)]);

    [Fact]
    public async Task A_scrape_says_what_the_nic_counters_say_and_a_removed_nic_leaves_it()
    {
        await using var server = await ApiServerFixture.StartAsync(configuration: OneNicOnASwitch);
        var nic = await MoveFramesAsync(server);

        var response = await server.Client.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType);
        var scrape = PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
        var vm1 = new[] { ("nic", "vm1"), ("personality", "e1000") };

        Assert.Equal(Injected, nic.Counters.RxFrames);
        Assert.Equal(Sent, nic.Counters.TxFrames);
        Assert.Equal(nic.Counters.RxFrames, scrape.Value("polynic_nic_received_frames_total", vm1));
        Assert.Equal(nic.Counters.RxBytes, scrape.Value("polynic_nic_received_bytes_total", vm1));
        Assert.Equal(nic.Counters.RxBroadcast, scrape.Value("polynic_nic_received_broadcast_frames_total", vm1));
        Assert.Equal(nic.Counters.TxFrames, scrape.Value("polynic_nic_transmitted_frames_total", vm1));
        Assert.Equal(nic.Counters.TxBytes, scrape.Value("polynic_nic_transmitted_bytes_total", vm1));
        Assert.Equal(0, scrape.Value("polynic_nic_transmit_dropped_frames_total", vm1));
        Assert.Equal(0, scrape.Value("polynic_nic_failed", vm1));
        Assert.Equal(0, scrape.Value("polynic_vfio_user_client_connected", vm1));
        // The switch saw the same frames from its side.
        Assert.Equal(Sent, scrape.Value("polynic_switch_port_received_frames_total", ("switch", "lan"), ("port", "lan:vm1")));
        Assert.Equal(Injected, scrape.Value("polynic_switch_port_delivered_frames_total", ("switch", "lan"), ("port", "lan:vm1")));
        Assert.Equal(Sent + Injected, scrape.Value("polynic_switch_flooded_frames_total", ("switch", "lan")));
        Assert.Equal(0, scrape.Value("polynic_switch_port_dropped_frames_total", ("switch", "lan"), ("port", "lan:vm1"), ("reason", "queue_full")));

        Assert.Equal(HttpStatusCode.OK, (await server.Client.DeleteAsync("api/v1/nics/vm1")).StatusCode);
        var after = PrometheusScrape.Parse(await server.Client.GetStringAsync("metrics"));
        Assert.DoesNotContain(after.Samples, s => s.Labels.TryGetValue("nic", out var n) && n == "vm1");
        Assert.DoesNotContain(after.Samples, s => s.Labels.TryGetValue("port", out var p) && p == "lan:vm1");
    }

    [Fact]
    public async Task Metrics_need_the_token_like_the_api()
    {
        await using var server = await ApiServerFixture.StartAsync(configuration: OneNicOnASwitch);
        using var anonymous = new HttpClient { BaseAddress = server.Api.Url };
        var refused = await anonymous.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.DoesNotContain("polynic_", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_metrics_endpoint_is_not_in_the_openapi_document()
    {
        await using var server = await ApiServerFixture.StartAsync();
        Assert.DoesNotContain("/metrics", await server.Client.GetStringAsync("openapi/v1.json"));
    }

    /// <summary>Needs <c>promtool</c> (Debian package <c>prometheus</c>; .ci/run installs it): fails, not skips, without it.</summary>
    [Fact]
    public async Task Promtool_accepts_a_live_scrape()
    {
        await using var server = await ApiServerFixture.StartAsync(configuration: OneNicOnASwitch);
        await MoveFramesAsync(server);
        string scrape = await server.Client.GetStringAsync("metrics");

        var (exitCode, promtoolOutput) = await Promtool.CheckMetricsAsync(scrape);
        output.WriteLine($"promtool check metrics: exit {exitCode}\n{promtoolOutput}\nthe scrape it checked:\n{scrape}");
        Assert.True(exitCode == 0, $"promtool check metrics failed (exit {exitCode}):\n{promtoolOutput}\nscrape:\n{scrape}");
    }

    /// <summary>
    /// Drives vm1 as a guest would: <see cref="Sent"/> broadcasts out through the switch, and
    /// <see cref="Injected"/> broadcasts in from another switch port; returns once both arrived.
    /// </summary>
    private static async Task<NicDevice> MoveFramesAsync(ApiServerFixture server)
    {
        var served = server.Host.Functions.Single(f => f.Name == "vm1");
        var nic = served.Nic!;
        var guest = new E1000Guest(served.Function);
        var peer = server.Host.Switches["lan"].CreatePort("peer", SwitchPortOptions.Access(1));
        var wire = new CountingReceiver();
        peer.Start(wire);

        for (int i = 0; i < Sent; i++) guest.Transmit(Broadcast(NicMac, i));
        var peerMac = MacAddress.FromUInt64(0x52_54_00_00_00_99);
        for (int i = 0; i < Injected; i++) Assert.True(peer.Send(Broadcast(peerMac, i)));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((guest.Received < Injected || Volatile.Read(ref wire.Frames) < Sent) && DateTime.UtcNow < deadline)
        {
            guest.Poll();
            await Task.Delay(10);
        }
        Assert.Equal(Injected, guest.Received);
        Assert.Equal(Sent, Volatile.Read(ref wire.Frames));
        return nic;
    }

    private static byte[] Broadcast(MacAddress source, int seed)
    {
        var frame = new byte[60 + seed];
        frame.AsSpan(0, 6).Fill(0xFF);
        source.CopyTo(frame.AsSpan(6, 6));
        frame[12] = 0x88;
        frame[13] = 0xB5; // IEEE 802 local experimental EtherType
        for (int i = 14; i < frame.Length; i++) frame[i] = (byte)(seed + i);
        return frame;
    }

    private sealed class CountingReceiver : IPortReceiver
    {
        public int Frames;

        public void Receive(ReadOnlySpan<byte> frame) => Interlocked.Increment(ref Frames);

        public void LinkChanged(bool up) { }
    }
}
