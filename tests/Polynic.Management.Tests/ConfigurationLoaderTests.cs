using System.Text;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;

namespace Polynic.Management.Tests;

public class ConfigurationLoaderTests
{
    private static PolynicConfiguration Load(string xml) =>
        ConfigurationLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(xml)), "test.xml");

    private static ConfigurationException Refused(string xml) => Assert.Throws<ConfigurationException>(() => Load(xml));

    [Fact]
    public void A_two_vm_switch_configuration_loads()
    {
        var c = Load("""
            <polynic xmlns="urn:polynic:config:1">
              <capture file="/tmp/lan.pcapng" maxMegabytes="10" files="2"/>
              <switch name="lan0"/>
              <nic name="vm1" personality="e1000" socket="/run/polynic/vm1.sock" mac="52:54:00:00:00:01">
                <switchPort switch="lan0"/>
                <faults drop="0.1" seed="7"/>
              </nic>
              <nic name="vm2" personality="e1000" socket="/run/polynic/vm2.sock">
                <switchPort switch="lan0" trunk="10 20"/>
              </nic>
              <nic name="up" personality="e1000" socket="/run/polynic/up.sock"><tap name="pn0" vnetHeader="false"/></nic>
              <nic name="q" personality="e1000" socket="/run/polynic/q.sock"><stream mode="server" address="127.0.0.1:5555"/></nic>
            </polynic>
            """);
        Assert.Equal(10L << 20, c.Capture!.MaxBytes);
        Assert.Equal(TimeSpan.FromSeconds(300), Assert.Single(c.Switches).Aging);
        Assert.Equal(4, c.Nics.Count);
        Assert.Equal(MacAddress.Parse("52:54:00:00:00:01"), c.Nics[0].Mac);
        Assert.Equal(new FaultConfiguration(7, 0.1, 0, 0, false), c.Nics[0].Faults);
        Assert.Equal(new ushort[] { 10, 20 }, ((SwitchPortConfiguration)c.Nics[1].Port).TrunkVlans);
        Assert.NotEqual(c.Nics[0].Mac, c.Nics[1].Mac);
        Assert.Equal(new TapPortConfiguration("pn0", false, true), c.Nics[2].Port);
        Assert.Equal(new StreamPortConfiguration(true, "127.0.0.1:5555"), c.Nics[3].Port);
    }

    [Fact]
    public void Msix_is_offered_unless_a_nic_says_msix_false_in_the_file_or_msix_off_in_a_spec()
    {
        var c = Load("""
            <polynic xmlns="urn:polynic:config:1">
              <nic name="a" personality="virtio-net" socket="/run/polynic/a.sock"><unplugged/></nic>
              <nic name="b" personality="virtio-net" socket="/run/polynic/b.sock" msix="false"><unplugged/></nic>
            </polynic>
            """);
        Assert.True(c.Nics[0].OfferMsix);
        Assert.False(c.Nics[1].OfferMsix);
        Assert.Contains("msix", Refused("""
            <polynic xmlns="urn:polynic:config:1">
              <nic name="a" personality="virtio-net" socket="/run/polynic/a.sock" msix="off"><unplugged/></nic>
            </polynic>
            """).Message);

        Assert.True(DeviceSpec.Parse("virtio-net:/run/a.sock", 0).OfferMsix);
        var off = DeviceSpec.Parse("virtio-net:/run/a.sock,msix=off,queuePairs=2", 0);
        Assert.False(off.OfferMsix);
        Assert.Equal([new("queuePairs", "2")], off.Options); // msix is the core's, not handed to the personality
        Assert.True(DeviceSpec.Parse("virtio-net:/run/a.sock,msix=on", 0).OfferMsix);
        Assert.Contains("msix=on or msix=off", Assert.Throws<FormatException>(() => DeviceSpec.Parse("virtio-net:/run/a.sock,msix=2", 0)).Message);
    }

    [Fact]
    public void Busy_poll_is_the_servers_default_unless_the_configuration_names_0_to_1000_microseconds()
    {
        const string Nic = """<nic name="a" personality="e1000" socket="/run/polynic/a.sock"><unplugged/></nic>""";
        Assert.Null(Load($"""<polynic xmlns="urn:polynic:config:1">{Nic}</polynic>""").BusyPoll);
        Assert.Equal(TimeSpan.Zero, Load($"""<polynic xmlns="urn:polynic:config:1" busyPollMicroseconds="0">{Nic}</polynic>""").BusyPoll);
        Assert.Equal(TimeSpan.FromMicroseconds(200), Load($"""<polynic xmlns="urn:polynic:config:1" busyPollMicroseconds="200">{Nic}</polynic>""").BusyPoll);
        Assert.Contains("busyPollMicroseconds", Refused($"""<polynic xmlns="urn:polynic:config:1" busyPollMicroseconds="5000">{Nic}</polynic>""").Message);
    }

    [Fact]
    public void Schema_errors_name_file_line_and_column()
    {
        var e = Refused("""
            <polynic xmlns="urn:polynic:config:1">
              <nic name="vm1" personality="e1000" socket="relative.sock"><unplugged/></nic>
            </polynic>
            """);
        var error = Assert.Single(e.Errors);
        Assert.Equal("test.xml", error.File);
        Assert.Equal(2, error.Line);
        Assert.True(error.Column > 1);
        Assert.Contains("socket", error.Message);
        Assert.StartsWith("test.xml:2:", e.Message);
    }

    [Fact]
    public void A_switch_port_must_name_a_declared_switch()
    {
        var e = Refused("""
            <polynic xmlns="urn:polynic:config:1">
              <switch name="lan0"/>
              <nic name="vm1" personality="e1000" socket="/a.sock"><switchPort switch="lan9"/></nic>
            </polynic>
            """);
        Assert.Contains(e.Errors, x => x.Message.Contains("lan9"));
    }

    [Fact]
    public void Duplicate_names_sockets_and_macs_are_refused_with_their_lines()
    {
        var e = Refused("""
            <polynic xmlns="urn:polynic:config:1">
              <nic name="a" personality="e1000" socket="/a.sock" mac="52:54:00:00:00:01"><unplugged/></nic>
              <nic name="a" personality="e1000" socket="/a.sock" mac="52:54:00:00:00:01"><unplugged/></nic>
            </polynic>
            """);
        Assert.All(e.Errors, x => Assert.Equal(3, x.Line));
        Assert.True(e.Errors.Count >= 2);

        var mac = Refused("""
            <polynic xmlns="urn:polynic:config:1">
              <nic name="a" personality="e1000" socket="/a.sock" mac="52:54:00:00:00:01"><unplugged/></nic>
              <nic name="b" personality="e1000" socket="/b.sock" mac="52:54:00:00:00:01"><unplugged/></nic>
              <nic name="c" personality="e1000" socket="/c.sock" mac="01:00:5e:00:00:01"><unplugged/></nic>
            </polynic>
            """);
        Assert.Equal(new[] { 3, 4 }, mac.Errors.Select(x => x.Line));
        Assert.Contains("already used by NIC 'a'", mac.Errors[0].Message);
        Assert.Contains("group address", mac.Errors[1].Message);
    }

    [Fact]
    public void Malformed_xml_and_wrong_root_are_refused_clearly()
    {
        var broken = Refused("<polynic xmlns=\"urn:polynic:config:1\">\n  <nic name=\"a\"\n</polynic>");
        Assert.Equal(3, Assert.Single(broken.Errors).Line);
        var wrong = Refused("<config/>");
        Assert.Contains(wrong.Errors, x => x.Message.Contains("urn:polynic:config:1"));
        var dtd = Refused("<!DOCTYPE polynic [<!ENTITY x \"y\">]><polynic xmlns=\"urn:polynic:config:1\"/>");
        Assert.Single(dtd.Errors);
    }

    [Fact]
    public void A_missing_file_is_reported_by_name()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("/nonexistent/polynic.xml"));
        Assert.Contains("/nonexistent/polynic.xml", e.Message);
        Assert.Contains("not found", e.Message);
    }
}
