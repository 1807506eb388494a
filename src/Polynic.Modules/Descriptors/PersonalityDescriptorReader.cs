using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using Polynic.Core.Modules;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;

namespace Polynic.Modules.Descriptors;

/// <summary>
/// Where a descriptor says its behaviour is: a code file beside it and a factory class in it, or
/// a personality an already-loaded module provides (exactly one of the two).
/// </summary>
/// <param name="File">Absolute path of the .cs or .dll file; null when <see cref="Personality"/> is given.</param>
/// <param name="Factory">Full name of its public <see cref="IPersonalityFactory"/> class; null when <see cref="Personality"/> is given.</param>
/// <param name="Line">Line of the behaviour element, for messages.</param>
/// <param name="Column">Column of the behaviour element.</param>
public sealed record BehaviourReference(string? File, string? Factory, int Line, int Column)
{
    /// <summary>The personality whose behaviour the descriptor reuses (its factory implements <see cref="IDescriptorBehaviour"/>); null for a code file.</summary>
    public string? Personality { get; init; }
}

/// <summary>A descriptor read and checked: the personality, or every error found (file:line:column).</summary>
/// <param name="Descriptor">The personality; null when there are errors.</param>
/// <param name="Behaviour">Its behaviour code, if it names any.</param>
/// <param name="Errors">What is wrong; empty when <paramref name="Descriptor"/> is set.</param>
public sealed record DescriptorReadResult(PersonalityDescriptor? Descriptor, BehaviourReference? Behaviour, IReadOnlyList<ModuleDiagnostic> Errors)
{
    /// <summary>
    /// Line and column of the element of each part the descriptor has (the first one for parts
    /// that repeat, such as BARs), so a problem a behaviour finds can be reported where it is.
    /// </summary>
    public IReadOnlyDictionary<DescriptorPart, (int Line, int Column)> Locations { get; init; } = new Dictionary<DescriptorPart, (int Line, int Column)>();

    /// <summary>
    /// The problem as a diagnostic at its part's element; a part the descriptor lacks is reported
    /// at the behaviour element (which asked for it), else at the root.
    /// </summary>
    /// <param name="problem">What a behaviour found.</param>
    public ModuleDiagnostic Diagnose(DescriptorProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var (line, column) = Locations.TryGetValue(problem.Part, out var at) ? at
            : Locations.TryGetValue(DescriptorPart.Behaviour, out var behaviour) ? behaviour
            : Locations.TryGetValue(DescriptorPart.Personality, out var root) ? root : (0, 0);
        return new ModuleDiagnostic(Descriptor?.SourceFile ?? "", line, column, "error", "PND", problem.Message);
    }
}

/// <summary>
/// Reads a personality descriptor: XML validated against the published schema
/// (schemas/polynic-personality.xsd), then checked for what a schema cannot say (number ranges,
/// BARs and capabilities that fit together, registers inside their BAR and not overlapping,
/// EEPROM words in range). Every error names file, line and column; all are reported at once.
/// </summary>
public static class PersonalityDescriptorReader
{
    /// <summary>The descriptor namespace.</summary>
    public const string Namespace = "urn:polynic:personality:1";

    /// <summary>Largest descriptor read, in characters: a descriptor is a few kilobytes.</summary>
    public const int MaxCharacters = 1 << 20;

    /// <summary>Largest BAR a register map may cover (the register file's limit).</summary>
    public const long MaxRegisterBarBytes = 16L << 20;

    private static readonly XNamespace Ns = Namespace;
    private static readonly Lazy<XmlSchemaSet> Schema = new(LoadSchema);

    /// <summary>Reads <paramref name="path"/>. Never throws for the file's content; I/O errors are reported as errors too.</summary>
    public static DescriptorReadResult Read(string path)
    {
        var errors = new List<ModuleDiagnostic>();
        var settings = new XmlReaderSettings
        {
            ValidationType = ValidationType.Schema,
            Schemas = Schema.Value,
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxCharacters,
        };
        settings.ValidationEventHandler += (_, e) => errors.Add(Error(path, e.Exception.LineNumber, e.Exception.LinePosition, e.Message));
        XDocument document;
        try
        {
            using var reader = XmlReader.Create(path, settings);
            document = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            return Failed(Error(path, e.LineNumber, e.LinePosition, e.Message));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failed(Error(path, 0, 0, $"cannot read: {e.Message}"));
        }
        if (document.Root?.Name != Ns + "personality")
            errors.Insert(0, Error(path, 1, 1, $"the root element must be <personality xmlns=\"{Namespace}\">"));
        if (errors.Count > 0) return new DescriptorReadResult(null, null, errors);
        return Build(document.Root!, path, errors);
    }

    private static DescriptorReadResult Build(XElement root, string path, List<ModuleDiagnostic> errors)
    {
        var numbers = new Numbers(path, errors);
        var pci = root.Element(Ns + "pci")!;
        var identity = new PciIdentity(
            VendorId: (ushort)numbers.Get(pci, "vendor", 0, 0xFFFF),
            DeviceId: (ushort)numbers.Get(pci, "device", 0, 0xFFFF),
            ClassCode: (uint)numbers.Get(pci, "class", 0, 0xFF_FFFF),
            Revision: (byte)numbers.Get(pci, "revision", 0, 0xFF),
            SubsystemVendorId: (ushort)numbers.Get(pci, "subsystemVendor", 0, 0xFFFF),
            SubsystemId: (ushort)numbers.Get(pci, "subsystem", 0, 0xFFFF),
            InterruptPin: (byte)((string?)pci.Attribute("interruptPin") switch { "none" => 0, "B" => 2, "C" => 3, "D" => 4, _ => 1 }));

        var bars = root.Elements(Ns + "bar").Select(b => new BarDefinition(
            int.Parse((string)b.Attribute("index")!, CultureInfo.InvariantCulture),
            (string)b.Attribute("kind")! switch { "io" => BarKind.Io, "memory64" => BarKind.Memory64, _ => BarKind.Memory32 },
            (ulong)numbers.Get(b, "size", 4, 1L << 32),
            b.Attribute("prefetchable") is { } p && XmlConvert.ToBoolean(p.Value))).ToList();

        var caps = root.Element(Ns + "capabilities");
        var definition = new PciFunctionDefinition
        {
            Identity = identity,
            Bars = bars,
            PowerManagement = caps?.Element(Ns + "powerManagement") is null ? null : new PowerManagementCapability(),
            Msi = caps?.Element(Ns + "msi") is { } msi
                ? new MsiCapability((int)numbers.Get(msi, "vectors", 1, 32, 1), Bool(msi, "is64Bit", true), Bool(msi, "perVectorMasking", false))
                : null,
            Msix = caps?.Element(Ns + "msix") is { } msix
                ? new MsixCapability((int)numbers.Get(msix, "vectors", 1, 2048), (int)numbers.Get(msix, "tableBar", 0, 5), (uint)numbers.Get(msix, "tableOffset", 0, uint.MaxValue),
                    (int)numbers.Get(msix, "pbaBar", 0, 5), (uint)numbers.Get(msix, "pbaOffset", 0, uint.MaxValue))
                : null,
        };
        if (errors.Count == 0)
        {
            try { definition.Validate(); }
            catch (ArgumentException e) { errors.Add(At(path, root.Element(Ns + "bar") ?? pci, e.Message)); }
        }

        var registers = new List<RegisterDescriptor>();
        foreach (var block in root.Elements(Ns + "registers"))
        {
            int bar = (int)numbers.Get(block, "bar", 0, 5);
            var barDefinition = bars.FirstOrDefault(b => b.Index == bar);
            if (barDefinition is null)
            {
                errors.Add(At(path, block, $"registers for BAR {bar}, which is not declared"));
                continue;
            }
            if (barDefinition.Size > MaxRegisterBarBytes)
            {
                errors.Add(At(path, block, $"registers for BAR {bar} of 0x{barDefinition.Size:X} bytes: a register map covers at most 0x{MaxRegisterBarBytes:X} bytes"));
                continue;
            }
            // Declaring into a scratch register file applies the same checks the device will
            // (alignment, inside the BAR, no overlap), with the element's position on failure.
            var check = errors.Count == 0 ? new RegisterFile((int)Math.Max(4, barDefinition.Size)) : null;
            foreach (var r in block.Elements(Ns + "register"))
            {
                var spec = new RegisterSpec((uint)numbers.Get(r, "offset", 0, uint.MaxValue), (string)r.Attribute("name")!)
                {
                    Access = (string?)r.Attribute("access") switch
                    {
                        "readOnly" => RegisterAccess.ReadOnly,
                        "writeOnly" => RegisterAccess.WriteOnly,
                        "readToClear" => RegisterAccess.ReadToClear,
                        "writeOneToClear" => RegisterAccess.WriteOneToClear,
                        _ => RegisterAccess.ReadWrite,
                    },
                    ResetValue = (uint)numbers.Get(r, "reset", 0, uint.MaxValue),
                    WriteMask = (uint)numbers.Get(r, "writeMask", 0, uint.MaxValue, uint.MaxValue),
                    Count = (int)numbers.Get(r, "count", 1, 65536, 1),
                    Stride = (uint)numbers.Get(r, "stride", 4, 1 << 24, 4),
                };
                try { check?.Declare(spec); }
                catch (ArgumentException e) { errors.Add(At(path, r, $"register {e.Message.Replace(" (Parameter 'spec')", "", StringComparison.Ordinal)}")); }
                registers.Add(new RegisterDescriptor(bar, spec));
            }
        }

        EepromDescriptor? eeprom = null;
        if (root.Element(Ns + "eeprom") is { } e2)
        {
            int words = (int)numbers.Get(e2, "words", 1, 4096);
            var contents = new Dictionary<int, ushort>();
            foreach (var w in e2.Elements(Ns + "word"))
            {
                int offset = (int)numbers.Get(w, "offset", 0, words - 1);
                if (!contents.TryAdd(offset, (ushort)numbers.Get(w, "value", 0, 0xFFFF)))
                    errors.Add(At(path, w, $"EEPROM word 0x{offset:x} is given twice"));
            }
            int? macWord = e2.Element(Ns + "mac") is { } m ? (int)numbers.Get(m, "word", 0, Math.Max(0, words - 3)) : null;
            var checksum = e2.Element(Ns + "checksum");
            int? checksumWord = checksum is null ? null : (int)numbers.Get(checksum, "word", 0, words - 1);
            ushort target = checksum is null ? (ushort)0 : (ushort)numbers.Get(checksum, "sum", 0, 0xFFFF);
            if (macWord is { } mw && checksumWord is { } cw && cw >= mw && cw < mw + 3)
                errors.Add(At(path, checksum!, $"the checksum word 0x{cw:x} lies inside the station address (words 0x{mw:x}..0x{mw + 2:x})"));
            eeprom = new EepromDescriptor(words, contents, macWord, checksumWord, target);
        }

        PhyDescriptor? phy = root.Element(Ns + "phy") is { } ph ? new PhyDescriptor((uint)numbers.Get(ph, "id", 0, uint.MaxValue)) : null;
        BusDescriptor? bus = root.Element(Ns + "bus") is { } bu
            ? new BusDescriptor((int?)bu.Attribute("width") ?? 32, (int?)bu.Attribute("clockMHz") ?? 33)
            : null;

        BehaviourReference? behaviour = null;
        if (root.Element(Ns + "behaviour") is { } b2)
        {
            var info = (IXmlLineInfo)b2;
            var fileAttribute = b2.Attribute("file");
            var factoryAttribute = b2.Attribute("factory");
            var personalityAttribute = b2.Attribute("personality");
            if (personalityAttribute is not null)
            {
                if (fileAttribute is not null || factoryAttribute is not null)
                    errors.Add(At(path, b2, "behaviour names a personality and a file or factory: give either personality=\"NAME\" or file=\"...\" with factory=\"...\""));
                else if (string.Equals(personalityAttribute.Value, (string)root.Attribute("name")!, StringComparison.OrdinalIgnoreCase))
                    errors.Add(At(path, personalityAttribute, $"behaviour personality '{personalityAttribute.Value}' is this descriptor's own name"));
                behaviour = new BehaviourReference(null, null, info.LineNumber, info.LinePosition) { Personality = personalityAttribute.Value };
            }
            else if (fileAttribute is null || factoryAttribute is null)
            {
                errors.Add(At(path, b2, "behaviour needs either personality=\"NAME\" (a personality of a loaded module) or file=\"...\" with factory=\"...\""));
            }
            else
            {
                var file = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, fileAttribute.Value);
                if (!File.Exists(file)) errors.Add(At(path, fileAttribute, $"behaviour file {file} does not exist"));
                behaviour = new BehaviourReference(file, factoryAttribute.Value, info.LineNumber, info.LinePosition);
            }
        }

        if (errors.Count > 0) return new DescriptorReadResult(null, null, errors);
        var descriptor = new PersonalityDescriptor((string)root.Attribute("name")!, (string)root.Attribute("description")!,
            definition, registers, eeprom, Path.GetFullPath(path))
        {
            Phy = phy,
            Bus = bus,
        };
        return new DescriptorReadResult(descriptor, behaviour, []) { Locations = LocationsOf(root) };
    }

    private static Dictionary<DescriptorPart, (int Line, int Column)> LocationsOf(XElement root)
    {
        var parts = new Dictionary<DescriptorPart, (int Line, int Column)>();
        void Add(DescriptorPart part, XElement? element)
        {
            if (element is IXmlLineInfo info && info.HasLineInfo()) parts[part] = (info.LineNumber, info.LinePosition);
        }
        Add(DescriptorPart.Personality, root);
        Add(DescriptorPart.Pci, root.Element(Ns + "pci"));
        Add(DescriptorPart.Bars, root.Element(Ns + "bar"));
        Add(DescriptorPart.Capabilities, root.Element(Ns + "capabilities"));
        Add(DescriptorPart.Registers, root.Element(Ns + "registers"));
        Add(DescriptorPart.Eeprom, root.Element(Ns + "eeprom"));
        Add(DescriptorPart.Phy, root.Element(Ns + "phy"));
        Add(DescriptorPart.Bus, root.Element(Ns + "bus"));
        Add(DescriptorPart.Behaviour, root.Element(Ns + "behaviour"));
        return parts;
    }

    private static bool Bool(XElement e, string attribute, bool fallback) =>
        e.Attribute(attribute) is { } a ? XmlConvert.ToBoolean(a.Value) : fallback;

    private static DescriptorReadResult Failed(ModuleDiagnostic error) => new(null, null, [error]);

    private static ModuleDiagnostic Error(string file, int line, int column, string message) =>
        new(Path.GetFullPath(file), line, column, "error", "PND", message);

    private static ModuleDiagnostic At(string file, XObject node, string message)
    {
        var info = (IXmlLineInfo)node;
        return Error(file, info.LineNumber, info.LinePosition, message);
    }

    private static XmlSchemaSet LoadSchema()
    {
        using var stream = typeof(PersonalityDescriptorReader).Assembly.GetManifestResourceStream("polynic-personality.xsd")
            ?? throw new InvalidOperationException("the personality descriptor schema is not embedded");
        var set = new XmlSchemaSet();
        set.Add(XmlSchema.Read(stream, null)!);
        set.Compile();
        return set;
    }

    /// <summary>Parses the schema's numberType (decimal or 0x hex) with a range check that names the attribute's position.</summary>
    private sealed class Numbers(string path, List<ModuleDiagnostic> errors)
    {
        public long Get(XElement element, string attribute, long minimum, long maximum, long fallback = 0)
        {
            var a = element.Attribute(attribute);
            if (a is null) return fallback;
            var text = a.Value;
            bool ok = PersonalitySettings.TryParseInteger(text, out long value);
            if (ok && value >= minimum && value <= maximum) return value;
            errors.Add(At(path, a, $"{attribute}=\"{text}\" is out of range: {Format(minimum)}..{Format(maximum)}"));
            return Math.Clamp(value, minimum, maximum);
        }

        private static string Format(long value) => value > 0xFFFF ? $"0x{value:X}" : value.ToString(CultureInfo.InvariantCulture);
    }
}
