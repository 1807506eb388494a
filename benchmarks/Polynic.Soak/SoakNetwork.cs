using System.Globalization;
using System.Xml.Linq;

namespace Polynic.Soak;

/// <summary>
/// The NICs the soak's server serves, written as the configuration file <c>polynic serve --config</c>
/// reads: one e1000 per guest on switch <c>soak</c>, each with a fault-injection decorator
/// (no faults until the control socket sets some); the attacked NIC on the same switch; and an
/// idle, unplugged NIC a well-behaved client probes.
/// </summary>
internal sealed class SoakNetwork(string work, int guests)
{
    public const string Hostile = "hostile", Probe = "probe";

    public string ConfigFile => Path.Combine(work, "soak.xml");

    public string ControlSocket => Path.Combine(work, "control.sock");

    public string Socket(string nic) => Path.Combine(work, nic + ".sock");

    public static string GuestNic(int i) => $"g{i}";

    public static string Address(int i) => $"10.88.0.{i + 1}";

    public static string Mac(int i) => $"52:54:00:50:00:{i + 1:x2}";

    public void Write()
    {
        XNamespace ns = "urn:polynic:config:1";
        var root = new XElement(ns + "polynic", new XElement(ns + "switch", new XAttribute("name", "soak")));
        for (int i = 0; i < guests; i++)
        {
            root.Add(Nic(ns, GuestNic(i), Mac(i), new XElement(ns + "switchPort", new XAttribute("switch", "soak")),
                new XElement(ns + "faults", new XAttribute("seed", (1000 + i).ToString(CultureInfo.InvariantCulture)))));
        }
        root.Add(Nic(ns, Hostile, "52:54:00:50:00:ee", new XElement(ns + "switchPort", new XAttribute("switch", "soak"))));
        root.Add(Nic(ns, Probe, "52:54:00:50:00:ef", new XElement(ns + "unplugged")));
        new XDocument(root).Save(ConfigFile);
    }

    private XElement Nic(XNamespace ns, string name, string mac, params object[] content) =>
        new(ns + "nic", new XAttribute("name", name), new XAttribute("personality", "e1000"), new XAttribute("socket", Socket(name)),
            new XAttribute("mac", mac), content);
}
