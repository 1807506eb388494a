using static Polynic.Core.Pci.ConfigRegisters;

namespace Polynic.Core.Pci;

public sealed partial class PciFunction
{
    /// <summary>
    /// Reads <c>data.Length</c> bytes at <paramref name="offset"/> of BAR <paramref name="bar"/>.
    /// The MSI-X table and PBA are served by the core; everything else goes to the device.
    /// </summary>
    /// <returns>false, and nothing read, if the BAR is not implemented or the range leaves it.</returns>
    public bool ReadBar(int bar, ulong offset, Span<byte> data)
    {
        if (!InBar(bar, offset, data.Length)) return false;
        lock (_gate)
        {
            if (FailureReason is not null) { data.Fill(0xFF); return true; }
            if (TryMsixStructure(bar, offset, data.Length, out var structure, out uint relative))
            {
                data.Clear();
                if (relative == Straddling) return true;
                if (structure == MsixStructure.Table) Interrupts.ReadMsixTable(relative, data);
                else Interrupts.ReadMsixPendingBits(relative, data);
                return true;
            }
            data.Clear();
            ReadDevice(bar, offset, data);
        }
        return true;
    }

    /// <summary>Writes to BAR <paramref name="bar"/>; the same routing as <see cref="ReadBar"/>.</summary>
    /// <returns>false, and nothing written, if the BAR is not implemented or the range leaves it.</returns>
    public bool WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (!InBar(bar, offset, data.Length)) return false;
        lock (_gate)
        {
            if (FailureReason is not null) return true;
            if (TryMsixStructure(bar, offset, data.Length, out var structure, out uint relative))
            {
                // The PBA is read-only (PCI 3.0, 6.8.2.10); writes to it are ignored.
                if (structure == MsixStructure.Table && relative != Straddling) Interrupts.WriteMsixTable(relative, data);
                return true;
            }
            WriteDevice(bar, offset, data);
        }
        return true;
    }

    /// <summary>
    /// Finds the BAR that decodes a bus address, as a host bridge does: only while the
    /// command register enables the BAR's space and the BAR holds a non-zero address.
    /// Used by the in-process test machine; a vfio-user VMM decodes addresses itself.
    /// </summary>
    public bool TryDecode(ulong address, bool ioSpace, out int bar, out ulong offset)
    {
        lock (_gate)
        {
            ushort command = _config.U16(Command);
            bool enabled = ioSpace ? (command & CommandIoSpace) != 0 : (command & CommandMemorySpace) != 0;
            if (enabled)
            {
                foreach (var b in Definition.Bars)
                {
                    if ((b.Kind == BarKind.Io) != ioSpace) continue;
                    ulong baseAddress = BarAddress(b);
                    if (baseAddress != 0 && address >= baseAddress && address - baseAddress < b.Size)
                    {
                        bar = b.Index;
                        offset = address - baseAddress;
                        return true;
                    }
                }
            }
        }
        bar = -1;
        offset = 0;
        return false;
    }

    private ulong BarAddress(BarDefinition b)
    {
        int at = Bar0 + 4 * b.Index;
        return b.Kind switch
        {
            BarKind.Io => _config.U32(at) & 0xFFFF_FFFC,
            BarKind.Memory32 => _config.U32(at) & 0xFFFF_FFF0,
            _ => (_config.U32(at) & 0xFFFF_FFF0) | ((ulong)_config.U32(at + 4) << 32),
        };
    }

    private bool InBar(int bar, ulong offset, int length)
    {
        // An array, not Definition.FindBar: this runs on every register access and must not allocate.
        var b = (uint)bar < (uint)_barByIndex.Length ? _barByIndex[bar] : null;
        return b is not null && length > 0 && (ulong)length <= b.Size && offset <= b.Size - (ulong)length;
    }

    private enum MsixStructure { Table, PendingBits }

    private const uint Straddling = uint.MaxValue;

    /// <summary>
    /// Whether an access touches the MSI-X table or PBA. Accesses that straddle the edge of
    /// either are served by the core alone (the device part reads as zero): software must
    /// access these structures with aligned DWORD or QWORD operations (PCI 3.0, 6.8.2).
    /// </summary>
    private bool TryMsixStructure(int bar, ulong offset, int length, out MsixStructure structure, out uint relative)
    {
        structure = default;
        relative = 0;
        if (Definition.Msix is not { } x) return false;
        ulong end = offset + (ulong)length;
        if (x.TableBar == bar && offset < x.TableOffset + x.TableSize && end > x.TableOffset)
        {
            structure = MsixStructure.Table;
            relative = offset >= x.TableOffset ? (uint)(offset - x.TableOffset) : Straddling;
            return true;
        }
        if (x.PbaBar == bar && offset < x.PbaOffset + x.PbaSize && end > x.PbaOffset)
        {
            structure = MsixStructure.PendingBits;
            relative = offset >= x.PbaOffset ? (uint)(offset - x.PbaOffset) : Straddling;
            return true;
        }
        return false;
    }

    private void ReadDevice(int bar, ulong offset, Span<byte> data)
    {
        try
        {
            _device.ReadBar(bar, offset, data);
        }
        catch (Exception e)
        {
            Fail($"read of BAR {bar} offset 0x{offset:x}", e);
            data.Fill(0xFF);
        }
    }

    private void WriteDevice(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        try
        {
            _device.WriteBar(bar, offset, data);
        }
        catch (Exception e)
        {
            Fail($"write to BAR {bar} offset 0x{offset:x}", e);
        }
    }
}
