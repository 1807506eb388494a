using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using Polynic.Core.Nic;

namespace Polynic.Management.Configuration;

/// <summary>
/// Reads a Polynic configuration file: XML validated against the published schema
/// (schemas/polynic-config.xsd), then checked for what a schema cannot say. Every error
/// names the file, line and column; all errors are reported at once.
/// </summary>
public static class ConfigurationLoader
{
    /// <summary>The configuration namespace.</summary>
    public const string Namespace = "urn:polynic:config:1";

    private static readonly XNamespace Ns = Namespace;
    private static readonly Lazy<XmlSchemaSet> Schema = new(LoadSchema);

    /// <summary>Loads and validates <paramref name="path"/>.</summary>
    /// <exception cref="ConfigurationException">The file is missing, not well-formed, or invalid.</exception>
    public static PolynicConfiguration Load(string path)
    {
        if (!File.Exists(path)) throw Single(path, 0, 0, "file not found");
        using var stream = File.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>Loads and validates a configuration from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static PolynicConfiguration Load(Stream stream, string name)
    {
        var errors = new List<ConfigurationError>();
        var settings = new XmlReaderSettings
        {
            ValidationType = ValidationType.Schema,
            Schemas = Schema.Value,
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = 4 << 20,
        };
        settings.ValidationEventHandler += (_, e) =>
            errors.Add(new ConfigurationError(name, e.Exception.LineNumber, e.Exception.LinePosition, e.Message));
        XDocument document;
        try
        {
            using var reader = XmlReader.Create(stream, settings, name);
            document = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            throw Single(name, e.LineNumber, e.LinePosition, e.Message);
        }
        if (document.Root?.Name != Ns + "polynic")
            errors.Insert(0, new ConfigurationError(name, 1, 1, $"the root element must be <polynic xmlns=\"{Namespace}\">"));
        if (errors.Count > 0) throw new ConfigurationException(errors);
        return Build(document.Root!, name, errors);
    }

    private static PolynicConfiguration Build(XElement root, string name, List<ConfigurationError> errors)
    {
        CaptureConfiguration? capture = root.Element(Ns + "capture") is { } c
            ? new CaptureConfiguration((string)c.Attribute("file")!, Long(c, "maxMegabytes", 100) << 20, (int)Long(c, "files", 4), (int)Long(c, "snapLength", 262144))
            : null;
        var switches = root.Elements(Ns + "switch")
            .Select(s => new SwitchConfiguration((string)s.Attribute("name")!, TimeSpan.FromSeconds(Long(s, "agingSeconds", 300))))
            .ToList();
        var nics = new List<NicConfiguration>();
        var macs = new Dictionary<MacAddress, string>();
        int index = 0;
        foreach (var n in root.Elements(Ns + "nic"))
        {
            var nicName = (string)n.Attribute("name")!;
            var mac = n.Attribute("mac") is { } m ? MacAddress.Parse(m.Value) : NicSettings.ForIndex(index).Mac;
            if (!mac.IsUnicast) errors.Add(At(name, n.Attribute("mac")!, $"NIC '{nicName}': MAC {mac} is a group address; a station address must be unicast"));
            else if (!macs.TryAdd(mac, nicName)) errors.Add(At(name, (XObject?)n.Attribute("mac") ?? n, $"NIC '{nicName}': MAC {mac} is already used by NIC '{macs[mac]}'"));
            nics.Add(new NicConfiguration(nicName, (string)n.Attribute("personality")!, (string)n.Attribute("socket")!, mac,
                Options(n, name, nicName, errors), Port(n), Faults(n), ((IXmlLineInfo)n).LineNumber, Bool(n, "msix", true)));
            index++;
        }
        foreach (var group in nics.Where(x => x.Port is TapPortConfiguration).GroupBy(x => ((TapPortConfiguration)x.Port).InterfaceName).Where(g => g.Count() > 1 && !g.Key.Contains('%')))
            errors.Add(new ConfigurationError(name, group.Last().Line, 1, $"tap '{group.Key}' is used by more than one NIC ({string.Join(", ", group.Select(x => x.Name))})"));
        if (errors.Count > 0) throw new ConfigurationException(errors);
        TimeSpan? busyPoll = root.Attribute("busyPollMicroseconds") is { } b ? TimeSpan.FromMicroseconds(long.Parse(b.Value, CultureInfo.InvariantCulture)) : null;
        return new PolynicConfiguration(name, capture, switches, nics, busyPoll);
    }

    private static List<KeyValuePair<string, string>> Options(XElement nic, string file, string nicName, List<ConfigurationError> errors)
    {
        var options = new List<KeyValuePair<string, string>>();
        if (nic.Attribute("revision") is { } r) options.Add(new("revision", r.Value));
        foreach (var o in nic.Elements(Ns + "option"))
        {
            var key = (string)o.Attribute("name")!;
            if (options.Any(x => string.Equals(x.Key, key, StringComparison.OrdinalIgnoreCase)))
                errors.Add(At(file, o, $"NIC '{nicName}': option '{key}' is given twice"));
            else options.Add(new(key, (string)o.Attribute("value")!));
        }
        return options;
    }

    private static PortConfiguration Port(XElement nic)
    {
        var e = nic.Elements().First(x => x.Name.LocalName != "option");
        return e.Name.LocalName switch
        {
            "tap" => new TapPortConfiguration((string)e.Attribute("name")!, Bool(e, "vnetHeader", true), Bool(e, "up", true)),
            "switchPort" => new SwitchPortConfiguration((string)e.Attribute("switch")!, (ushort)Long(e, "vlan", 1),
                e.Attribute("trunk") is { } t ? t.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => ushort.Parse(v, CultureInfo.InvariantCulture)).ToList() : null),
            "stream" => new StreamPortConfiguration((string)e.Attribute("mode")! == "server", (string)e.Attribute("address")!),
            "dgram" => new DgramPortConfiguration((string)e.Attribute("local")!, (string)e.Attribute("remote")!),
            _ => new UnpluggedPortConfiguration(),
        };
    }

    private static FaultConfiguration? Faults(XElement nic) => nic.Element(Ns + "faults") is { } f
        ? new FaultConfiguration((int)Long(f, "seed", 1), Double(f, "drop"), Double(f, "corrupt"), (int)Long(f, "delayMs", 0), Bool(f, "linkDown", false))
        : null;

    private static long Long(XElement e, string attribute, long fallback) =>
        e.Attribute(attribute) is { } a ? long.Parse(a.Value, CultureInfo.InvariantCulture) : fallback;

    private static double Double(XElement e, string attribute) =>
        e.Attribute(attribute) is { } a ? double.Parse(a.Value, CultureInfo.InvariantCulture) : 0;

    private static bool Bool(XElement e, string attribute, bool fallback) =>
        e.Attribute(attribute) is { } a ? XmlConvert.ToBoolean(a.Value) : fallback;

    private static ConfigurationError At(string file, XObject node, string message)
    {
        var info = (IXmlLineInfo)node;
        return new ConfigurationError(file, info.LineNumber, info.LinePosition, message);
    }

    private static ConfigurationException Single(string file, int line, int column, string message) =>
        new([new ConfigurationError(file, line, column, message)]);

    private static XmlSchemaSet LoadSchema()
    {
        using var stream = typeof(ConfigurationLoader).Assembly.GetManifestResourceStream("polynic-config.xsd")
            ?? throw new InvalidOperationException("the configuration schema is not embedded");
        var set = new XmlSchemaSet();
        set.Add(XmlSchema.Read(stream, null)!);
        set.Compile();
        return set;
    }
}
