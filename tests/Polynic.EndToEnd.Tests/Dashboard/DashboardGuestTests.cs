using System.Diagnostics;
using System.Globalization;
using OpenQA.Selenium;
using Polynic.EndToEnd.Tests.Modules;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Dashboard;

/// <summary>
/// The web dashboard in a real browser against a real <c>polynic serve --http</c> serving a real
/// guest an e1000 and a virtio-net NIC, both pinging their peers: what the page shows and what its
/// buttons do is checked against the guest (carrier), the capture file (tshark) and the catalog.
/// One guest boot for all of it; a screenshot of each state goes to the test's output directory.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class DashboardGuestTests(RigFixture rig, ITestOutputHelper output)
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(30);

    private const string E1000 = "vm-e1000", Virtio = "vm-virtio";
    private const string E1000Peer = "10.77.236.1", E1000Guest = "10.77.236.2";
    private const string VirtioPeer = "10.77.237.1", VirtioGuest = "10.77.237.2";

    [Fact]
    public async Task The_dashboard_shows_and_drives_a_served_guest()
    {
        DashboardBrowser.AssertInstalled();
        var clock = Stopwatch.StartNew();
        await PolynicProcess.EnsureBuiltAsync();
        var image = await rig.Rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-dashboard-");
        string artifacts = Path.Combine(AppContext.BaseDirectory, "dashboard-artifacts", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        output.WriteLine($"screenshots and downloads: {artifacts}");
        try
        {
            // Only the two personalities the guest needs: the page loads and unloads another.
            string modules = Path.Combine(work.FullName, "modules");
            foreach (var project in new[] { "Polynic.Personalities.E1000", "Polynic.Personalities.VirtioNet" })
                CopyDirectory(Path.GetDirectoryName(PolynicProcess.Module(project))!, Path.Combine(modules, project));
            string config = Path.Combine(work.FullName, "polynic.xml");
            string e1000Socket = Path.Combine(work.FullName, "e1000.sock"), virtioSocket = Path.Combine(work.FullName, "virtio.sock");
            File.WriteAllText(config, $"""
                <polynic xmlns="urn:polynic:config:1">
                  <switch name="lab"/>
                  <nic name="{E1000}" personality="e1000" socket="{e1000Socket}" mac="52:54:00:da:00:01"><tap name="pndash0"/><faults/></nic>
                  <nic name="{Virtio}" personality="virtio-net" socket="{virtioSocket}" mac="52:54:00:da:00:02"><tap name="pndash1"/></nic>
                  <nic name="lab-a" personality="e1000" socket="{work.FullName}/lab-a.sock"><switchPort switch="lab" vlan="10"/></nic>
                  <nic name="lab-b" personality="e1000" socket="{work.FullName}/lab-b.sock"><switchPort switch="lab" trunk="10 20"/></nic>
                </polynic>
                """);
            string tokenFile = Path.Combine(work.FullName, "http.token");
            await using var server = await PolynicProcess.ServeAsync(Path.Combine(work.FullName, "control.sock"), modules,
                "--config", config, "--http", "127.0.0.1:0", "--http-token-file", tokenFile, "--http-capture-dir", Path.Combine(work.FullName, "captures"));
            string dashboard = server.Output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("dashboard: ", StringComparison.Ordinal))?["dashboard: ".Length..]
                ?? throw new InvalidOperationException("serve printed no dashboard line:\n" + server.Output);
            string token = File.ReadAllText(tokenFile).Trim();
            Assert.EndsWith("/#token=" + token, dashboard);

            await using var e1000Peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            await e1000Peer.AdoptAsync("pndash0", E1000Peer + "/24");
            await using var virtioPeer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            await virtioPeer.AdoptAsync("pndash1", VirtioPeer + "/24");
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "dashboard", VfioUserSockets = [e1000Socket, virtioSocket] });
            string e1000If = await InterfaceOfDriverAsync(guest, "e1000"), virtioIf = await InterfaceOfDriverAsync(guest, "virtio_net");
            await guest.RunCheckedAsync(
                $"ip link set {e1000If} up && ip addr add {E1000Guest}/24 dev {e1000If} && ip link set {virtioIf} up && ip addr add {VirtioGuest}/24 dev {virtioIf} && " +
                $"{WaitForCarrier(e1000If, 1)} && {WaitForCarrier(virtioIf, 1)} && ping -c 2 -W 5 {E1000Peer} && ping -c 2 -W 5 {VirtioPeer}", Short);
            // Steady traffic on both NICs for as long as the guest runs; the virtio-net one is the busy one.
            await guest.RunCheckedAsync(
                $"(ping -i 0.2 {E1000Peer} >/tmp/ping-e1000.log 2>&1 &) ; (ping -i 0.05 -s 1200 {VirtioPeer} >/tmp/ping-virtio.log 2>&1 &)", Short);
            output.WriteLine($"guest up with pings after {clock.Elapsed.TotalSeconds:0} s ({e1000If}: e1000, {virtioIf}: virtio-net)");

            using var browser = DashboardBrowser.Start(Path.Combine(artifacts, "downloads"), artifacts);
            browser.Driver.Navigate().GoToUrl(dashboard);

            // Signed in from the fragment, which is gone from the address bar.
            browser.WaitFor("the NIC cards", d => browser.FindAll("article[data-role=nic]").Count == 4);
            Assert.DoesNotContain("token", browser.Driver.Url);
            Assert.False(browser.Find("#sign-in").Displayed);

            // Topology: both guest NICs attached to a VMM, with their personality and a tap port; the switch with its ports.
            foreach (var (nic, personality) in new[] { (E1000, "e1000"), (Virtio, "virtio-net") })
            {
                browser.WaitFor($"{nic} connected in the topology", d =>
                    browser.Attribute($"#topology g[data-role=topology-nic][data-nic='{nic}']", "data-connected") == "true");
                string node = $"#topology g[data-role=topology-nic][data-nic='{nic}']";
                Assert.Equal(personality, browser.Attribute(node, "data-personality"));
                Assert.Equal("tap", browser.Attribute(node, "data-port-kind"));
            }
            Assert.Equal("false", browser.Attribute("#topology g[data-role=topology-nic][data-nic='lab-a']", "data-connected"));
            Assert.Equal("switch", browser.Attribute("#topology g[data-role=topology-nic][data-nic='lab-b']", "data-port-kind"));
            // The switch drawn once with one port per NIC, each with its VLANs.
            browser.WaitFor("switch lab drawn once, with lab-a on VLAN 10 and lab-b trunking 10 and 20", d =>
                browser.FindAll("#topology g[data-role=topology-switch][data-switch=lab]").Count == 1
                && browser.FindAll("#topology [data-role=topology-port]").Count(p => p.Text.StartsWith("port ", StringComparison.Ordinal)) == 2
                && browser.Find("#topology g[data-nic='lab-a'] [data-role=topology-port]").Text.EndsWith("vlan 10", StringComparison.Ordinal)
                && browser.Find("#topology g[data-nic='lab-b'] [data-role=topology-port]").Text.EndsWith("trunk 10,20", StringComparison.Ordinal));
            output.WriteLine("topology: " + browser.Screenshot("topology", "#topology"));

            // Modules: loading a descriptor by its server-side path adds it to the catalog; unloading removes it.
            string scratchpad = Path.Combine(PolynicProcess.Artifacts, "modules", "scratchpad", "scratchpad.xml");
            Assert.True(File.Exists(scratchpad), scratchpad);
            browser.Find("#module-path").SendKeys(scratchpad);
            browser.Find("#module-load").Click();
            browser.WaitFor("scratchpad loaded", d => browser.Attribute("#modules tr[data-module=scratchpad]", "data-state") == "loaded");
            output.WriteLine("module loaded: " + browser.Screenshot("module-loaded", "#modules"));
            browser.Find("button[data-role=module-unload][data-module=scratchpad]").Click();
            browser.WaitFor("scratchpad gone", d => browser.FindAll("#modules tr[data-module=scratchpad]").Count == 0);
            Assert.Single(browser.FindAll("#modules tr[data-module='Polynic.Personalities.E1000'], #modules tr[data-module=e1000]"));
            output.WriteLine("module unloaded: " + browser.Screenshot("module-unloaded", "#modules"));

            // Add and remove a NIC from a spec; a refused spec shows the server's detail beside the form.
            browser.Find("#nic-spec").SendKeys($"e1000:{work.FullName}/extra.sock,unplugged,name=extra");
            browser.Find("#nic-add").Click();
            browser.WaitFor("the new NIC", d => browser.FindAll("article[data-nic=extra]").Count == 1);
            browser.Find("#nic-spec").SendKeys($"nosuch:{work.FullName}/bad.sock,unplugged,name=bad");
            browser.Find("#nic-add").Click();
            string problem = browser.WaitFor("the refusal", d => browser.Find("#nic-form-problem").Text is { Length: > 0 } t ? t : null)!;
            Assert.Contains("nosuch", problem);
            output.WriteLine("NIC refused: " + browser.Screenshot("nic-refused", "#nic-form") + $" ({problem})");
            browser.Find("button[data-role=nic-remove][data-nic=extra]").Click();
            browser.WaitFor("the NIC removed", d => browser.FindAll("article[data-nic=extra]").Count == 0);

            // Faults: the NIC configured with them takes the sliders; the other shows the server's refusal.
            SetSlider(browser, E1000, "delayMs", "10");
            browser.Find($"button[data-role=faults-apply][data-nic='{E1000}']").Click();
            browser.WaitFor("faults applied", d => browser.Attribute($"article[data-nic='{E1000}'] [data-role=faults-message]", "data-status") == "ok");
            browser.Find($"button[data-role=faults-clear][data-nic='{E1000}']").Click();
            browser.Find($"button[data-role=faults-apply][data-nic='{Virtio}']").Click();
            string refusal = browser.WaitFor("the faults refusal", d => browser.Find($"article[data-nic='{Virtio}'] [data-role=faults-message]").Text is { Length: > 0 } t ? t : null)!;
            Assert.Contains("fault", refusal, StringComparison.OrdinalIgnoreCase);
            output.WriteLine($"faults refused on {Virtio}: {refusal}");

            // Throughput of the busy NIC: non-zero, and the line moves from one second to the next.
            var plot = $"svg[data-role=throughput][data-nic='{Virtio}']";
            browser.WaitFor("virtio-net throughput above zero", d =>
                Number(browser.Attribute(plot, "data-rx-frames-per-second")) > 0 && Number(browser.Attribute(plot, "data-tx-bits-per-second")) > 0,
                TimeSpan.FromSeconds(30));
            string Line() => browser.Attribute($"{plot} g[data-chart=bits] polyline[data-direction=rx]", "points") ?? "";
            string before = Line();
            int samples = (int)Number(browser.Attribute(plot, "data-samples"));
            browser.WaitFor("the plot to move", d => Line() != before && Number(browser.Attribute(plot, "data-samples")) > samples, TimeSpan.FromSeconds(5));
            output.WriteLine($"virtio-net: rx {browser.Attribute(plot, "data-rx-frames-per-second")} frames/s, tx {browser.Attribute(plot, "data-tx-bits-per-second")} bit/s");
            output.WriteLine("throughput: " + browser.Screenshot("throughput", plot));

            // Link down in the page: the guest's e1000 loses carrier; up again: carrier and pings come back.
            browser.Find($"button[data-role=link-toggle][data-nic='{E1000}']").Click();
            browser.WaitFor("the page to show link down", d => browser.Attribute($"article[data-nic='{E1000}']", "data-link") == "down");
            await WaitForGuestAsync(guest, $"ip link show {e1000If}", text => text.Contains("NO-CARRIER", StringComparison.Ordinal), "NO-CARRIER");
            output.WriteLine("link down: " + browser.Screenshot("link-down", $"article[data-nic='{E1000}']"));
            browser.Find($"button[data-role=link-toggle][data-nic='{E1000}']").Click();
            browser.WaitFor("the page to show link up", d => browser.Attribute($"article[data-nic='{E1000}']", "data-link") == "up");
            await WaitForGuestAsync(guest, $"ip link show {e1000If}", text => !text.Contains("NO-CARRIER", StringComparison.Ordinal) && text.Contains("LOWER_UP", StringComparison.Ordinal), "carrier back");
            await guest.RunCheckedAsync($"ping -c 3 -W 3 -I {e1000If} {E1000Peer}", Short);
            output.WriteLine("link up: " + browser.Screenshot("link-up", $"article[data-nic='{E1000}']"));

            // Capture started, stopped and downloaded in the page: the file holds the guest's echo requests and replies.
            browser.Find($"button[data-role=capture-start][data-nic='{E1000}']").Click();
            var status = $"article[data-nic='{E1000}'] [data-role=capture-status]";
            browser.WaitFor("the capture to run", d => browser.Attribute(status, "data-state") == "running");
            await Task.Delay(TimeSpan.FromSeconds(3));
            browser.Find($"button[data-role=capture-stop][data-nic='{E1000}']").Click();
            browser.WaitFor("the capture to stop", d => browser.Attribute(status, "data-state") == "stopped");
            browser.Find($"button[data-role=capture-download][data-nic='{E1000}']").Click();
            string pcap = browser.WaitFor("the downloaded capture", d =>
                Directory.GetFiles(browser.Downloads, "*.pcapng").FirstOrDefault(f => new FileInfo(f).Length > 0), TimeSpan.FromSeconds(20))!;
            output.WriteLine("capture: " + browser.Screenshot("capture", $"article[data-nic='{E1000}']") + ", file " + pcap);
            var (code, echoes) = await PolynicProcess.RunAsync("tshark", ["-r", pcap, "-Y", "icmp", "-T", "fields", "-e", "icmp.type", "-e", "ip.src"], Short);
            Assert.True(code == 0, "tshark: " + echoes);
            var lines = echoes.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Contains(lines, l => l.StartsWith("8\t" + E1000Guest, StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("0\t" + E1000Peer, StringComparison.Ordinal));
            output.WriteLine($"capture: {lines.Length} ICMP packets");
            browser.Find($"button[data-role=capture-delete][data-nic='{E1000}']").Click();
            browser.WaitFor("the capture to be deleted", d => browser.Attribute(status, "data-state") == "none");
            Assert.Empty(Directory.GetFiles(Path.Combine(work.FullName, "captures"), "*.pcapng"));

            // The event stream saw what the page did.
            browser.WaitFor("link events in the log", d => browser.FindAll("#events li[data-type=link-changed]").Count >= 2);
            browser.WaitFor("module events in the log", d => browser.FindAll("#events li[data-type=module-unloaded]").Count >= 1);
            output.WriteLine("events: " + browser.Screenshot("events", "#events"));
            Assert.Empty(browser.SevereLog());

            // The pings never stopped for good: both still answered at the end.
            await guest.RunCheckedAsync($"ping -c 2 -W 3 {E1000Peer} && ping -c 2 -W 3 {VirtioPeer}", Short);
            Assert.False(server.HasExited, server.Output);
            await guest.DisposeAsync();
            Assert.Equal(0, await server.StopAsync());
            output.WriteLine($"done in {clock.Elapsed.TotalSeconds:0} s");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static double Number(string? text) => double.Parse(text ?? "0", CultureInfo.InvariantCulture);

    private static void SetSlider(DashboardBrowser browser, string nic, string key, string value)
    {
        var slider = browser.Find($"input[data-role='fault-{key}'][data-nic='{nic}']");
        browser.Driver.ExecuteScript("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", slider, value);
    }

    private static string WaitForCarrier(string nic, int value) =>
        $"for i in $(seq 1 100); do [ \"$(cat /sys/class/net/{nic}/carrier 2>/dev/null)\" = {value} ] && break; sleep 0.1; done; [ \"$(cat /sys/class/net/{nic}/carrier)\" = {value} ]";

    /// <summary>The guest's interface whose device is bound to <paramref name="driver"/>.</summary>
    private static async Task<string> InterfaceOfDriverAsync(Guest guest, string driver)
    {
        string text = await guest.RunCheckedAsync(
            "for i in /sys/class/net/*; do [ -e $i/device/driver ] && echo $(basename $i) $(basename $(readlink $i/device/driver)); done; true", Short);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ')).FirstOrDefault(p => p.Length == 2 && p[1] == driver)?[0]
            ?? throw new InvalidOperationException($"no guest interface bound to {driver}:\n{text}");
    }

    private static async Task WaitForGuestAsync(Guest guest, string command, Func<string, bool> done, string what)
    {
        string last = "";
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15); DateTime.UtcNow < deadline; await Task.Delay(300))
        {
            last = await guest.RunCheckedAsync(command, Short);
            if (done(last)) return;
        }
        Assert.Fail($"the guest never showed {what}; last `{command}`:\n{last}");
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from)) CopyDirectory(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
