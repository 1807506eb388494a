using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.TestMachine;

namespace Polynic.Modules.Tests;

/// <summary>
/// "This behaviour, that identity": a descriptor naming a personality of an already-loaded module
/// as its behaviour (<c>&lt;behaviour personality="..."/&gt;</c>) — loading, the identity, PHY and
/// bus it hands over, the order a directory is loaded in, unloading, and every refusal with its
/// file, line and column.
/// </summary>
public sealed class DescriptorBehaviourTests : IDisposable
{
    private static readonly PersonalitySettings Settings = new(NicSettings.ForIndex(3));
    private readonly TempDirectory _temp = new();
    private readonly ModuleCatalog _catalog;

    public DescriptorBehaviourTests() => _catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _temp.Combine("cache") });

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A behaviour others may reuse: its own identity 1234:5B00, or the descriptor's; it serves
    /// only descriptors with one 4 KiB memory BAR and a PHY, and its register 0 reads the PHY
    /// identifier, register 4 the bus width and clock, register 8 EEPROM word 5.
    /// </summary>
    private const string Blinker = """
        using System;
        using System.Collections.Generic;
        using Polynic.Core.Modules;
        using Polynic.Core.Pci;
        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]
        namespace Acme;
        public sealed class BlinkerFactory : IDescriptorBehaviour
        {
            public string Name => "blinker";
            public string Description => "Acme blinker (1234:5B00)";
            public IPciDevice Create(PersonalitySettings settings) => new Blinker(settings);
            public IReadOnlyList<DescriptorProblem> CheckDescriptor(PersonalityDescriptor d)
            {
                var problems = new List<DescriptorProblem>();
                if (d.Definition.Bars.Count != 1 || d.Definition.Bars[0].Size != 0x1000)
                    problems.Add(new(DescriptorPart.Bars, "the blinker needs one 4 KiB BAR"));
                if (d.Phy is null) problems.Add(new(DescriptorPart.Phy, "the blinker needs a <phy>"));
                return problems;
            }
        }
        public sealed class Blinker : IPciDevice
        {
            private readonly uint[] _registers = new uint[3];
            public Blinker(PersonalitySettings settings)
            {
                var d = settings.Descriptor;
                Definition = d?.Definition ?? new PciFunctionDefinition
                {
                    Identity = new PciIdentity(0x1234, 0x5B00, 0x020000, 1, 0x1234, 0x5B00, 1),
                    Bars = [new BarDefinition(0, BarKind.Memory32, 0x1000)],
                };
                _registers[0] = d?.Phy?.Identifier ?? 0x01410C20;
                _registers[1] = d?.Bus is { } bus ? (uint)(bus.Width << 16 | bus.ClockMegahertz) : 0;
                _registers[2] = d?.Eeprom is { } e ? e.Image(settings.Mac)[5] : 0xFFFFu;
            }
            public PciFunctionDefinition Definition { get; }
            public void Attach(IPciDeviceContext context) { }
            public void ReadBar(int bar, ulong offset, Span<byte> data)
            {
                data.Clear();
                if (offset < 12 && data.Length == 4) BitConverter.TryWriteBytes(data, _registers[offset / 4]);
            }
            public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data) { }
            public void Reset() { }
        }
        """;

    /// <summary>A personality that does not offer its behaviour to descriptors.</summary>
    private const string Plain = """
        using System;
        using Polynic.Core.Modules;
        using Polynic.Core.Pci;
        [assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]
        public sealed class PlainFactory : IPersonalityFactory
        {
            public string Name => "plain";
            public string Description => "keeps its behaviour to itself";
            public IPciDevice Create(PersonalitySettings settings) => throw new NotSupportedException();
        }
        """;

    /// <summary>The blinker as another part: 1234:5B45, a PHY, a 64-bit 66 MHz bus, an EEPROM.</summary>
    private const string Variant = """
        <?xml version="1.0" encoding="utf-8"?>
        <personality xmlns="urn:polynic:personality:1" name="blinker-45" description="the blinker as part 45">
          <pci vendor="0x1234" device="0x5B45" class="0x020000" revision="0x45" subsystemVendor="0x1234" subsystem="0x0045"/>
          <bar index="0" kind="memory32" size="0x1000"/>
          <eeprom words="64"><mac word="0"/><word offset="5" value="0x4545"/></eeprom>
          <phy id="0x01410C30"/>
          <bus width="64" clockMHz="66"/>
          <behaviour personality="blinker"/>
        </personality>
        """;

    private string Write(string name, string text)
    {
        string path = _temp.Combine(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private ModuleInfo LoadBlinker()
    {
        var info = _catalog.Load(Write("blinker.cs", Blinker));
        Assert.True(info.State == ModuleState.Loaded, info + "\n" + string.Join("\n", info.Diagnostics));
        return info;
    }

    [Fact]
    public void A_descriptor_reuses_a_loaded_behaviour_under_its_own_identity_phy_bus_and_eeprom()
    {
        LoadBlinker();
        var info = _catalog.Load(Write("blinker-45.xml", Variant));
        Assert.True(info.State == ModuleState.Loaded, info + "\n" + string.Join("\n", info.Diagnostics));
        Assert.Equal(ModuleKind.Descriptor, info.Kind);
        Assert.Equal(["blinker-45"], info.Personalities);
        Assert.Equal("blinker", info.DependsOn);
        Assert.Contains("(behaviour from module blinker)", info.ToString());
        Assert.Equal(["blinker", "blinker-45"], _catalog.Personalities().Select(p => p.Name));
        Assert.Equal("the blinker as part 45", _catalog.Personalities().Single(p => p.Name == "blinker-45").Description);

        var machine = new Machine();
        int original = machine.Plug(_catalog.Create("blinker", Settings));
        int variant = machine.Plug(_catalog.Create("blinker-45", Settings, out string module));
        Assert.Equal("blinker-45", module);
        Assert.Equal(0x5B00_1234u, machine.ConfigRead(original, 0x00));
        Assert.Equal(0x5B45_1234u, machine.ConfigRead(variant, 0x00));
        Assert.Equal(0x0200_0045u, machine.ConfigRead(variant, 0x08));
        Assert.Equal(0x0045_1234u, machine.ConfigRead(variant, 0x2C));
        ulong bar = machine.Enumerate(variant)[0];
        Assert.Equal(0x01410C30u, machine.MmioRead(bar));
        Assert.Equal(64u << 16 | 66, machine.MmioRead(bar + 4));
        Assert.Equal(0x4545u, machine.MmioRead(bar + 8));
        ulong originalBar = machine.Enumerate(original)[0];
        Assert.Equal(0x01410C20u, machine.MmioRead(originalBar));
    }

    [Fact]
    public void The_behaviours_module_cannot_be_unloaded_while_a_descriptor_uses_it()
    {
        LoadBlinker();
        Assert.Equal(ModuleState.Loaded, _catalog.Load(Write("blinker-45.xml", Variant)).State);

        var refused = Assert.Throws<InvalidOperationException>(() => _catalog.Unload("blinker"));
        Assert.Contains("module 'blinker' provides the behaviour of module(s) blinker-45; unload those first", refused.Message);
        Assert.True(_catalog.TryGetFactory("blinker", out _));

        _catalog.Unload("blinker-45");
        _catalog.Unload("blinker");
        Assert.Empty(_catalog.Personalities());
    }

    [Fact]
    public void A_directory_loads_code_modules_before_the_descriptors_that_reuse_them_and_answers_in_file_name_order()
    {
        // "a-variant" sorts before "blinker", but needs it loaded first.
        Write("modules/a-variant/a-variant.xml", Variant.Replace("blinker-45", "a-variant", StringComparison.Ordinal));
        Write("modules/blinker.cs", Blinker);
        Write("modules/plain.cs", Plain);

        var results = _catalog.LoadDirectory(_temp.Combine("modules"));

        Assert.Equal(["a-variant", "blinker", "plain"], results.Select(r => r.Name));
        Assert.All(results, r => Assert.True(r.State == ModuleState.Loaded, r.ToString()));
        Assert.Equal("blinker", results[0].DependsOn);
    }

    [Fact]
    public void Validating_a_descriptor_that_reuses_a_behaviour_keeps_nothing()
    {
        LoadBlinker();
        var valid = _catalog.Validate(Write("blinker-45.xml", Variant));
        Assert.True(valid.State == ModuleState.Valid, valid.ToString());
        Assert.Equal(["blinker"], _catalog.Personalities().Select(p => p.Name));
        _catalog.Unload("blinker");
    }

    [Fact]
    public void A_personality_no_loaded_module_provides_is_refused_at_the_behaviour_element()
    {
        _catalog.Load(Write("plain.cs", Plain));
        var path = Write("blinker-45.xml", Variant);

        var info = _catalog.Load(path);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.StartsWith($"{path}:8:4: behaviour personality 'blinker' is not provided by any loaded module (provided: plain)", info.Reason);
        var error = Assert.Single(info.Diagnostics);
        Assert.Equal((path, 8, 4), (error.File, error.Line, error.Column));
        Assert.Equal(["plain"], _catalog.Personalities().Select(p => p.Name));
    }

    [Fact]
    public void A_personality_whose_factory_does_not_offer_its_behaviour_is_refused()
    {
        Assert.Equal(ModuleState.Loaded, _catalog.Load(Write("plain.cs", Plain)).State);
        var path = Write("plain-2.xml", Variant.Replace("blinker-45", "plain-2", StringComparison.Ordinal)
            .Replace("personality=\"blinker\"", "personality=\"plain\"", StringComparison.Ordinal));

        var info = _catalog.Load(path);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.Contains($"{path}:8:4: behaviour personality 'plain' of module 'plain' cannot serve another descriptor (its factory does not implement IDescriptorBehaviour)", info.Reason);
    }

    [Fact]
    public void What_the_behaviour_cannot_serve_is_reported_at_the_element_concerned_or_at_the_behaviour_for_a_missing_part()
    {
        LoadBlinker();
        var path = Write("blinker-bad.xml", Variant
            .Replace("blinker-45", "blinker-bad", StringComparison.Ordinal)
            .Replace("size=\"0x1000\"", "size=\"0x2000\"", StringComparison.Ordinal)
            .Replace("  <phy id=\"0x01410C30\"/>\n", "", StringComparison.Ordinal));

        var info = _catalog.Load(path);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.Contains($"{path}: the behaviour cannot serve this descriptor (2 problem(s)); first: {path}:4:4: error PND: the blinker needs one 4 KiB BAR", info.Reason);
        Assert.Equal(2, info.Diagnostics.Count);
        Assert.Equal((path, 4, 4, "the blinker needs one 4 KiB BAR"), (info.Diagnostics[0].File, info.Diagnostics[0].Line, info.Diagnostics[0].Column, info.Diagnostics[0].Message));
        // No <phy>: reported where the behaviour is named (line 7 once the phy line is gone).
        Assert.Equal((7, 4, "the blinker needs a <phy>"), (info.Diagnostics[1].Line, info.Diagnostics[1].Column, info.Diagnostics[1].Message));
        Assert.DoesNotContain(_catalog.Personalities(), p => p.Name == "blinker-bad");
    }

    [Theory]
    [InlineData("<behaviour personality=\"blinker\" file=\"blinker.cs\" factory=\"Acme.BlinkerFactory\"/>", "give either personality=\"NAME\" or file=\"...\" with factory=\"...\"", 8)]
    [InlineData("<behaviour/>", "behaviour needs either personality=\"NAME\"", 8)]
    [InlineData("<behaviour file=\"blinker.cs\"/>", "behaviour needs either personality=\"NAME\"", 8)]
    [InlineData("<behaviour personality=\"blinker-45\"/>", "behaviour personality 'blinker-45' is this descriptor's own name", 8)]
    [InlineData("<behaviour personality=\"no such name\"/>", "personality", 8)]
    [InlineData("<phy id=\"0x100000000\"/>", "id=\"0x100000000\" is out of range", 6)]
    [InlineData("<phy/>", "'id'", 6)]
    [InlineData("<bus width=\"48\"/>", "width", 7)]
    [InlineData("<bus clockMHz=\"100\"/>", "clockMHz", 7)]
    public void A_bad_behaviour_phy_or_bus_element_is_refused_with_file_line_column(string element, string expected, int line)
    {
        LoadBlinker();
        string name = element[1..element.IndexOfAny([' ', '/'])];
        var original = Variant.Split('\n').Single(l => l.TrimStart().StartsWith("<" + name, StringComparison.Ordinal)).Trim();
        var path = Write("blinker-45.xml", Variant.Replace(original, element, StringComparison.Ordinal));

        var info = _catalog.Load(path);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.Contains(path, info.Reason);
        var error = Assert.Single(info.Diagnostics, d => d.Message.Contains(expected, StringComparison.Ordinal));
        Assert.Equal((path, line), (error.File, error.Line));
        Assert.True(error.Column > 0);
        Assert.DoesNotContain(_catalog.Personalities(), p => p.Name == "blinker-45");
    }
}
