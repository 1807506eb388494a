using Polynic.Core.Pci;

namespace Polynic.Core.Tests.Pci;

/// <summary>A minimal device for core tests: BAR 0 is 256 bytes of plain RAM-like registers.</summary>
internal sealed class ProbeDevice(PciFunctionDefinition definition) : IPciDevice
{
    private readonly byte[] _registers = new byte[256];

    public PciFunctionDefinition Definition { get; } = definition;
    public IPciDeviceContext Context { get; private set; } = null!;
    public int Resets { get; private set; }
    public bool ThrowOnAccess { get; set; }

    public void Attach(IPciDeviceContext context) => Context = context;

    public void ReadBar(int bar, ulong offset, Span<byte> data)
    {
        if (ThrowOnAccess) throw new InvalidOperationException("probe failure");
        if (bar == 0 && offset < 256) _registers.AsSpan((int)offset, Math.Min(data.Length, 256 - (int)offset)).CopyTo(data);
    }

    public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (ThrowOnAccess) throw new InvalidOperationException("probe failure");
        if (bar == 0 && offset < 256) data[..Math.Min(data.Length, 256 - (int)offset)].CopyTo(_registers.AsSpan((int)offset));
    }

    public void Reset()
    {
        Resets++;
        Array.Clear(_registers);
    }

    public static PciFunctionDefinition FullDefinition() => new()
    {
        Identity = new PciIdentity(0x8086, 0x100E, 0x020000, Revision: 3, SubsystemVendorId: 0x1af4, SubsystemId: 0x1100),
        Bars =
        [
            new BarDefinition(0, BarKind.Memory32, 0x20000),
            new BarDefinition(1, BarKind.Io, 64),
            new BarDefinition(2, BarKind.Memory64, 0x4000, Prefetchable: true),
        ],
        PowerManagement = new PowerManagementCapability(),
        Msi = new MsiCapability(Vectors: 4, Is64Bit: true, PerVectorMasking: true),
        Msix = new MsixCapability(Vectors: 8, TableBar: 2, TableOffset: 0, PbaBar: 2, PbaOffset: 0x2000),
    };
}
