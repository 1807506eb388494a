using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;

namespace Polynic.Core.Modules;

/// <summary>
/// A personality declared by an XML descriptor (schema <c>schemas/polynic-personality.xsd</c>):
/// the PCI function, its register map with access rules and reset values, its EEPROM image and
/// where the station address goes in it. A descriptor without code is a complete device (its
/// registers behave as declared); a descriptor that names a code module hands this object to
/// that module's factory in <see cref="PersonalitySettings.Descriptor"/>, so the code supplies
/// only behaviour.
/// </summary>
/// <param name="Name">The personality name a configuration uses.</param>
/// <param name="Description">One line for operators.</param>
/// <param name="Definition">PCI identity, BARs and capabilities (validated).</param>
/// <param name="Registers">The register map, per BAR, in declaration order.</param>
/// <param name="Eeprom">The EEPROM, or null if the device has none.</param>
/// <param name="SourceFile">The descriptor file, for messages.</param>
public sealed record PersonalityDescriptor(
    string Name,
    string Description,
    PciFunctionDefinition Definition,
    IReadOnlyList<RegisterDescriptor> Registers,
    EepromDescriptor? Eeprom,
    string SourceFile)
{
    /// <summary>The PHY behind the device's management interface, or null if the descriptor declares none.</summary>
    public PhyDescriptor? Phy { get; init; }

    /// <summary>
    /// The PCI bus the function reports it sits on (width and clock), for devices that report it
    /// in a register (the 8254x STATUS); null when the descriptor does not say (32-bit, 33 MHz).
    /// </summary>
    public BusDescriptor? Bus { get; init; }

    /// <summary>
    /// A register file for BAR <paramref name="bar"/> with every register the descriptor declares
    /// there, at its reset value, sized to the BAR. Code adds hooks or further registers to it.
    /// </summary>
    /// <param name="bar">The BAR index.</param>
    /// <param name="hooks">Read and write hooks by register name, for registers whose behaviour is code; null for none.</param>
    /// <exception cref="ArgumentException">The BAR is not declared, or a hook names no register of it.</exception>
    public RegisterFile CreateRegisterFile(int bar, IReadOnlyDictionary<string, (RegisterReadHook? OnRead, RegisterWriteHook? OnWrite)>? hooks = null)
    {
        var definition = Definition.FindBar(bar) ?? throw new ArgumentException($"{SourceFile}: BAR {bar} is not declared.", nameof(bar));
        var file = new RegisterFile((int)Math.Max(4, definition.Size));
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in Registers)
        {
            if (r.Bar != bar) continue;
            var spec = r.Spec;
            if (hooks is not null && hooks.TryGetValue(spec.Name, out var hook))
            {
                spec = spec with { OnRead = hook.OnRead, OnWrite = hook.OnWrite };
                used.Add(spec.Name);
            }
            file.Declare(spec);
        }
        if (hooks is not null && hooks.Keys.FirstOrDefault(k => !used.Contains(k)) is { } unknown)
            throw new ArgumentException($"{SourceFile}: BAR {bar} declares no register '{unknown}'.", nameof(hooks));
        return file;
    }
}

/// <summary>One register (or array of registers) of a descriptor's register map.</summary>
/// <param name="Bar">The BAR it lives in.</param>
/// <param name="Spec">Offset, name, access rule, write mask, reset value, count and stride.</param>
public sealed record RegisterDescriptor(int Bar, RegisterSpec Spec);

/// <summary>
/// A device's EEPROM: its size in 16-bit words, the words the descriptor gives, and where the
/// station address goes (three little-endian words, as in the 82540EM and 93C46-based NICs).
/// </summary>
/// <param name="Words">Size in 16-bit words.</param>
/// <param name="Contents">Word values by offset; other words read 0xFFFF, an erased cell.</param>
/// <param name="MacWord">First of the three words that hold the station address, or null if the EEPROM has none.</param>
/// <param name="ChecksumWord">
/// A word set so that the sum of words 0..ChecksumWord is <paramref name="ChecksumTarget"/>
/// (the Intel convention: word 0x3F, sum 0xBABA), or null for no checksum.
/// </param>
/// <param name="ChecksumTarget">The sum the checksum word makes.</param>
public sealed record EepromDescriptor(int Words, IReadOnlyDictionary<int, ushort> Contents, int? MacWord, int? ChecksumWord, ushort ChecksumTarget)
{
    /// <summary>The EEPROM image for a NIC with station address <paramref name="mac"/>.</summary>
    public ushort[] Image(MacAddress mac)
    {
        var image = new ushort[Words];
        Array.Fill(image, (ushort)0xFFFF);
        foreach (var (offset, value) in Contents) image[offset] = value;
        if (MacWord is { } m)
        {
            Span<byte> bytes = stackalloc byte[6];
            mac.CopyTo(bytes);
            for (int i = 0; i < 3; i++) image[m + i] = (ushort)(bytes[2 * i] | bytes[2 * i + 1] << 8);
        }
        if (ChecksumWord is { } c)
        {
            ushort sum = 0;
            for (int i = 0; i < c; i++) sum += image[i];
            image[c] = (ushort)(ChecksumTarget - sum);
        }
        return image;
    }
}

/// <summary>A PHY a descriptor declares: what its identifier registers (MII registers 2 and 3) read.</summary>
/// <param name="Identifier">PHYID1 in the high 16 bits, PHYID2 (model and revision) in the low 16 bits, for example 0x01410C20 (Marvell 88E1011).</param>
public sealed record PhyDescriptor(uint Identifier);

/// <summary>The conventional PCI bus segment a function reports it sits on.</summary>
/// <param name="Width">Data path width in bits: 32 or 64.</param>
/// <param name="ClockMegahertz">Bus clock: 33 or 66 MHz.</param>
public sealed record BusDescriptor(int Width, int ClockMegahertz);
