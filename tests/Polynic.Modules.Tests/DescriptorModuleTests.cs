using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Modules.Descriptors;
using Polynic.TestMachine;

namespace Polynic.Modules.Tests;

/// <summary>XML personality descriptors: code-free devices, behaviour modules, and every kind of error with its position.</summary>
public sealed class DescriptorModuleTests : IDisposable
{
    private static readonly PersonalitySettings Settings = new(NicSettings.ForIndex(1));
    private readonly TempDirectory _temp = new();
    private readonly ModuleCatalog _catalog;

    public DescriptorModuleTests() => _catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _temp.Combine("cache") });

    public void Dispose() => _temp.Dispose();

    private const string Scratchpad = """
        <?xml version="1.0" encoding="utf-8"?>
        <personality xmlns="urn:polynic:personality:1" name="scratchpad" description="register-only test device">
          <pci vendor="0x1234" device="0x5A01" class="0x020000" revision="7" subsystemVendor="0x1234" subsystem="0x0042"/>
          <bar index="0" kind="memory32" size="0x1000"/>
          <capabilities><powerManagement/><msi vectors="1"/></capabilities>
          <registers bar="0">
            <register name="ID" offset="0x0" access="readOnly" reset="0xC0FFEE01"/>
            <register name="CTRL" offset="0x4" reset="0x10" writeMask="0x0000FFFF"/>
            <register name="STATUS" offset="0x8" access="writeOneToClear" reset="0xF0"/>
            <register name="CAUSE" offset="0xC" access="readToClear" reset="0x3"/>
            <register name="DOORBELL" offset="0x10" access="writeOnly"/>
            <register name="TABLE" offset="0x100" count="4" stride="8" reset="0xAA"/>
          </registers>
        </personality>
        """;

    private string Write(string name, string text)
    {
        string path = _temp.Combine(name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_descriptor_without_code_is_a_complete_device_whose_registers_follow_their_access_rules()
    {
        var info = _catalog.Load(Write("scratchpad.xml", Scratchpad));
        Assert.True(info.State == ModuleState.Loaded, info.ToString());
        Assert.Equal(ModuleKind.Descriptor, info.Kind);
        Assert.Equal(["scratchpad"], info.Personalities);

        var machine = new Machine();
        int slot = machine.Plug(_catalog.Create("scratchpad", Settings));
        Assert.Equal(0x5A01_1234u, machine.ConfigRead(slot, 0x00));
        Assert.Equal(0x0200_0007u, machine.ConfigRead(slot, 0x08));
        Assert.Equal(0x0042_1234u, machine.ConfigRead(slot, 0x2C));
        Assert.NotEqual(0u, machine.ConfigRead(slot, 0x34)); // capability list: PM and MSI
        ulong bar = machine.Enumerate(slot)[0];

        Assert.Equal(0xC0FFEE01u, machine.MmioRead(bar));
        machine.MmioWrite(bar, 0);
        Assert.Equal(0xC0FFEE01u, machine.MmioRead(bar)); // read-only
        machine.MmioWrite(bar + 4, 0xFFFF_1234);
        Assert.Equal(0x1234u, machine.MmioRead(bar + 4)); // only the write mask's bits
        machine.MmioWrite(bar + 8, 0x30);
        Assert.Equal(0xC0u, machine.MmioRead(bar + 8)); // writing 1 clears
        Assert.Equal(0x3u, machine.MmioRead(bar + 0xC));
        Assert.Equal(0u, machine.MmioRead(bar + 0xC)); // read clears
        machine.MmioWrite(bar + 0x10, 0x55);
        Assert.Equal(0u, machine.MmioRead(bar + 0x10)); // write-only reads 0
        Assert.Equal(0xAAu, machine.MmioRead(bar + 0x118));
        Assert.Equal(0u, machine.MmioRead(bar + 0x104)); // between array elements: undeclared
        Assert.Equal(0u, machine.MmioRead(bar + 0xFFC));

        machine.Function(slot).Device.Reset();
        Assert.Equal(0x10u, machine.MmioRead(bar + 4));
        Assert.Equal(0xF0u, machine.MmioRead(bar + 8));
    }

    [Fact]
    public void A_descriptor_with_behaviour_hands_itself_to_the_code_which_builds_on_its_register_map_and_eeprom()
    {
        Write("widget.cs", """
            using System;
            using Polynic.Core.Modules;
            using Polynic.Core.Nic.Registers;
            using Polynic.Core.Pci;
            [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]
            namespace Acme;
            public sealed class WidgetFactory : IPersonalityFactory
            {
                public string Name => "ignored: the descriptor names the personality";
                public string Description => "";
                public IPciDevice Create(PersonalitySettings settings) => new Widget(settings);
            }
            public sealed class Widget : IPciDevice
            {
                private readonly RegisterFile _registers;
                public Widget(PersonalitySettings settings)
                {
                    var d = settings.Descriptor ?? throw new ArgumentException("needs its descriptor");
                    Definition = d.Definition;
                    var eeprom = d.Eeprom!.Image(settings.Mac);
                    _registers = d.CreateRegisterFile(0, new System.Collections.Generic.Dictionary<string, (RegisterReadHook?, RegisterWriteHook?)>
                    {
                        ["EEPROM"] = ((RegisterFile _, in RegisterRead r) => eeprom[r.Value & 0x3F], null),
                    });
                }
                public PciFunctionDefinition Definition { get; }
                public void Attach(IPciDeviceContext context) { }
                public void ReadBar(int bar, ulong offset, Span<byte> data) => _registers.Read(offset, data);
                public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data) => _registers.Write(offset, data);
                public void Reset() => _registers.Reset();
            }
            """);
        var path = Write("widget.xml", """
            <personality xmlns="urn:polynic:personality:1" name="widget" description="Acme widget">
              <pci vendor="0x1234" device="0x5A02" class="0x020000"/>
              <bar index="0" kind="io" size="32"/>
              <registers bar="0">
                <register name="EEPROM" offset="0x4" writeMask="0x3F"/>
              </registers>
              <eeprom words="64"><mac word="0"/><checksum word="0x3F" sum="0xBABA"/><word offset="5" value="0x1234"/></eeprom>
              <behaviour file="widget.cs" factory="Acme.WidgetFactory"/>
            </personality>
            """);

        var info = _catalog.Load(path);
        Assert.True(info.State == ModuleState.Loaded, info.ToString());
        Assert.Equal(["widget"], info.Personalities);
        Assert.Equal(PolynicSdk.Version, info.SdkVersion);

        var machine = new Machine();
        int slot = machine.Plug(_catalog.Create("widget", Settings));
        ulong io = machine.Enumerate(slot)[0];
        var mac = Settings.Mac.ToString().Split(':').Select(h => Convert.ToByte(h, 16)).ToArray();
        ushort[] words = new ushort[64];
        for (uint i = 0; i < 64; i++)
        {
            machine.IoWrite(io + 4, i, 4);
            words[i] = (ushort)machine.IoRead(io + 4, 4);
        }
        Assert.Equal((ushort)(mac[0] | mac[1] << 8), words[0]);
        Assert.Equal((ushort)(mac[4] | mac[5] << 8), words[2]);
        Assert.Equal(0x1234, words[5]);
        Assert.Equal(0xFFFF, words[6]);
        Assert.Equal(0xBABA, words.Aggregate(0, (sum, w) => (sum + w) & 0xFFFF));
    }

    [Theory]
    [InlineData("<pci vendor=\"0x10000\"", "vendor=\"0x10000\" is out of range", 3)]
    [InlineData("<pci colour=\"blue\" vendor=\"1\"", "colour", 3)]
    [InlineData("<register name=\"B\" offset=\"0x6\"", "not dword aligned", 7)]
    [InlineData("<register name=\"B\" offset=\"0x1000\"", "beyond", 7)]
    [InlineData("<register name=\"B\" offset=\"0x0\"", "already declared as A", 7)]
    [InlineData("<registers bar=\"1\"", "BAR 1, which is not declared", 5)]
    [InlineData("<bar index=\"0\" kind=\"memory32\" size=\"0x80000000\"", "a register map covers at most", 5)]
    [InlineData("<behaviour file=\"missing.cs\"", "missing.cs does not exist", 9)]
    public void A_bad_descriptor_is_refused_with_file_line_column_and_the_problem(string replace, string expected, int line)
    {
        var text = """
            <personality xmlns="urn:polynic:personality:1" name="bad" description="bad">

              <pci vendor="0x1234" device="1" class="0x020000"/>
              <bar index="0" kind="memory32" size="0x1000"/>
              <registers bar="0">
                <register name="A" offset="0x0"/>
                <register name="B" offset="0x4"/>
              </registers>
              <behaviour file="present.cs" factory="X.Y"/>
            </personality>
            """;
        var key = replace[..replace.IndexOf(' ')];
        var at = key switch
        {
            "<pci" => "<pci vendor=\"0x1234\"",
            "<register" => "<register name=\"B\" offset=\"0x4\"",
            "<registers" => "<registers bar=\"0\"",
            "<bar" => "<bar index=\"0\" kind=\"memory32\" size=\"0x1000\"",
            _ => "<behaviour file=\"present.cs\"",
        };
        Write("present.cs", "class Unused {}");
        var path = Write("bad.xml", text.Replace(at, replace, StringComparison.Ordinal));

        var info = _catalog.Load(path);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.Contains(path, info.Reason);
        var error = Assert.Single(info.Diagnostics, d => d.Message.Contains(expected, StringComparison.Ordinal));
        Assert.Equal(path, error.File);
        Assert.Equal(line, error.Line);
        Assert.True(error.Column > 0);
        Assert.Empty(_catalog.Personalities());
    }

    [Fact]
    public void Behaviour_that_does_not_compile_or_lacks_its_factory_fails_naming_the_descriptor_and_the_code()
    {
        Write("broken.cs", "namespace Acme; public sealed class Oops { int X => ; }");
        var broken = _catalog.Load(Write("broken.xml", """
            <personality xmlns="urn:polynic:personality:1" name="broken" description="x">
              <pci vendor="1" device="1" class="0x020000"/>
              <bar index="0" kind="io" size="32"/>
              <behaviour file="broken.cs" factory="Acme.Factory"/>
            </personality>
            """));
        Assert.Equal(ModuleState.Failed, broken.State);
        Assert.Contains("broken.xml:4:4: behaviour", broken.Reason);
        Assert.Contains("does not compile", broken.Reason);
        Assert.Contains(broken.Diagnostics, d => d.File.EndsWith("broken.cs", StringComparison.Ordinal) && d.Line == 1 && d.IsError);

        Write("nofactory.cs", "[assembly: Polynic.Core.Modules.PolynicModule(1, 0)] namespace Acme; public sealed class NotAFactory { }");
        var missing = _catalog.Load(Write("nofactory.xml", """
            <personality xmlns="urn:polynic:personality:1" name="nofactory" description="x">
              <pci vendor="1" device="1" class="0x020000"/>
              <bar index="0" kind="io" size="32"/>
              <behaviour file="nofactory.cs" factory="Acme.Factory"/>
            </personality>
            """));
        Assert.Equal(ModuleState.Failed, missing.State);
        Assert.Contains("has no public class Acme.Factory", missing.Reason);
        Assert.Empty(_catalog.Personalities());
    }

    [Fact]
    public void A_directory_takes_a_descriptor_and_not_its_behaviour_file_as_the_module()
    {
        Write("scratchpad.xml", Scratchpad);
        Write("scratchpad.cs", "this is the behaviour's file name, not a module of its own");
        var modules = _catalog.LoadDirectory(_temp.Path);
        var only = Assert.Single(modules);
        Assert.Equal(ModuleKind.Descriptor, only.Kind);
        Assert.Equal(ModuleState.Loaded, only.State);
    }

    [Fact]
    public void A_compiled_modules_xml_documentation_beside_it_is_not_taken_for_a_descriptor()
    {
        Directory.CreateDirectory(_temp.Combine("Acme"));
        File.WriteAllText(_temp.Combine("Acme", "Acme.xml"), "<?xml version=\"1.0\"?><doc><assembly><name>Acme</name></assembly><members/></doc>");
        File.WriteAllText(_temp.Combine("Acme", "Acme.dll"), "not really an assembly");
        File.WriteAllText(_temp.Combine("Top.xml"), "<doc><members/></doc>");
        File.WriteAllText(_temp.Combine("Top.dll"), "not really an assembly");
        File.WriteAllText(_temp.Combine("broken.xml"), "<personality xmlns=\"urn:polynic:personality:1\" name=\"x\"");

        var found = ModuleCatalog.Discover(_temp.Path).Select(Path.GetFileName).ToArray();

        Assert.Equal(["Acme.dll", "Top.dll", "broken.xml"], found.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_published_schema_is_the_one_the_server_validates_with()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var published = Path.Combine(dir.FullName, "schemas", "polynic-personality.xsd");
            if (!File.Exists(published)) continue;
            using var embedded = typeof(PersonalityDescriptorReader).Assembly.GetManifestResourceStream("polynic-personality.xsd")!;
            Assert.Equal(File.ReadAllText(published), new StreamReader(embedded).ReadToEnd());
            return;
        }
        Assert.Fail("schemas/polynic-personality.xsd not found above the test directory");
    }
}
