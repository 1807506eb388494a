using System.Numerics;
using System.Buffers.Binary;
using Polynic.Core.Interrupts;
using static Polynic.Core.Pci.ConfigRegisters;

namespace Polynic.Core.Pci;

public sealed partial class PciFunction
{
    /// <summary>Reads configuration space; false, and nothing read, if the range is outside it.</summary>
    public bool ReadConfig(int offset, Span<byte> data)
    {
        if (offset < 0 || data.Length > ConfigSpaceSize || offset > ConfigSpaceSize - data.Length) return false;
        lock (_gate)
        {
            AccessThroughWindows(offset, data.Length, write: false);
            _config.SetBits16(Status, StatusInterrupt, Interrupts.IntxStatus);
            _config.Read(offset, data);
            if (_layout.MsiPending is { } pending) OverlayDword(offset, data, pending, Interrupts.MsiPendingBits);
        }
        return true;
    }

    /// <summary>
    /// Writes configuration space: only writable bits change, write-one-to-clear bits clear,
    /// read-only and reserved bits keep their value. False if the range is outside it.
    /// </summary>
    public bool WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        if (offset < 0 || data.Length > ConfigSpaceSize || offset > ConfigSpaceSize - data.Length) return false;
        lock (_gate)
        {
            _config.Write(offset, data);
            ApplyConfig();
            AccessThroughWindows(offset, data.Length, write: true);
        }
        return true;
    }

    /// <summary>
    /// A configuration access that touches a BAR window's data field reaches the BAR (virtio 1.2,
    /// 4.1.4.9): a read first fetches the BAR's bytes into the field, a write passes the field's
    /// first length bytes on.
    /// </summary>
    private void AccessThroughWindows(int offset, int length, bool write)
    {
        Span<byte> bytes = stackalloc byte[BarWindow.DataLength];
        for (int i = 0; i < _layout.Vendor.Count; i++)
        {
            if (Definition.VendorCapabilities[i].Window is not { } window) continue;
            int at = _layout.Vendor[i];
            if (!Overlaps(offset, length, at + window.DataField, BarWindow.DataLength)
                || !TryWindowTarget(at, window, out int bar, out ulong barOffset, out int size)) continue;
            if (write)
            {
                _config.Read(at + window.DataField, bytes);
                WriteBar(bar, barOffset, bytes[..size]);
            }
            else
            {
                bytes.Clear();
                if (ReadBar(bar, barOffset, bytes[..size])) _config.Store(at + window.DataField, bytes);
            }
        }
    }

    /// <summary>
    /// The access the driver set up in a window: a length of 1, 2 or 4 at an offset aligned to it
    /// (the driver's duty, 4.1.4.9.1), inside an implemented BAR. Anything else is ignored: the
    /// values are the guest's and untrusted.
    /// </summary>
    private bool TryWindowTarget(int at, BarWindow window, out int bar, out ulong offset, out int length)
    {
        bar = _config.Bytes[at + window.BarField];
        offset = _config.U32(at + window.OffsetField);
        uint requested = _config.U32(at + window.LengthField);
        length = requested is 1 or 2 or 4 ? (int)requested : 0;
        return length != 0 && offset % (ulong)length == 0 && InBar(bar, offset, length);
    }

    private static bool Overlaps(int offset, int length, int start, int size) => offset < start + size && start < offset + length;

    /// <summary>Pushes the interrupt- and DMA-relevant parts of configuration space to the router and DMA gate.</summary>
    private void ApplyConfig()
    {
        ushort command = _config.U16(Command);
        bool busMaster = (command & CommandBusMaster) != 0;
        _dma.SetBusMaster(busMaster);

        bool msiEnabled = false, msixEnabled = false, msixMasked = false;
        int msiVectors = 1;
        uint msiMask = 0;
        MsiMessage msi = default;
        if (_layout.Msi is { } m)
        {
            ushort control = _config.U16(m + 2);
            msiEnabled = (control & 1) != 0;
            int requested = 1 << ((control >> 1) & 7);
            int enabled = 1 << ((control >> 4) & 7);
            // PCI 3.0, 6.8.1.3: software must not enable more than requested; clamp if it does.
            msiVectors = Math.Min(enabled, requested);
            ulong address = _config.U32(m + 4);
            if (Definition.Msi!.Is64Bit) address |= (ulong)_config.U32(m + 8) << 32;
            msi = new MsiMessage(address, _config.U16(_layout.MsiData));
            if (_layout.MsiMask is { } mask) msiMask = _config.U32(mask);
        }
        if (_layout.Msix is { } x)
        {
            ushort control = _config.U16(x + 2);
            msixEnabled = (control & 0x8000) != 0;
            msixMasked = (control & 0x4000) != 0;
        }
        Interrupts.Configure(new InterruptConfig(
            busMaster, (command & CommandInterruptDisable) != 0,
            msiEnabled, msiVectors, msi, msiMask, msixEnabled, msixMasked));
    }

    private void BuildConfigSpace()
    {
        var id = Definition.Identity;
        _config.Define(VendorId, 2, id.VendorId);
        _config.Define(DeviceId, 2, id.DeviceId);
        _config.Define(Command, 2, 0, writable: CommandWritable);
        bool hasCapabilities = _layout.End > FirstCapability;
        _config.Define(Status, 2, hasCapabilities ? StatusCapabilitiesList : 0u, writeOneToClear: StatusWriteOneToClear);
        _config.Define(Revision, 1, id.Revision);
        _config.Define(ClassCode, 3, id.ClassCode);
        _config.Define(CacheLineSize, 1, 0, writable: 0xFF);
        _config.Define(LatencyTimer, 1, 0, writable: 0xFF);
        _config.Define(HeaderType, 1, 0);
        foreach (var bar in Definition.Bars) DefineBar(bar);
        _config.Define(SubsystemVendorId, 2, id.SubsystemVendorId);
        _config.Define(SubsystemId, 2, id.SubsystemId);
        _config.Define(CapabilitiesPointer, 1, hasCapabilities ? (uint)FirstCapability : 0);
        _config.Define(InterruptLine, 1, 0xFF, writable: 0xFF);
        _config.Define(InterruptPin, 1, id.InterruptPin);
        DefineCapabilities();
        _config.Seal();
        ApplyConfig();
    }

    /// <summary>
    /// PCI 3.0, 6.2.5.1: the address bits below the BAR's size are hardwired to zero, which
    /// is how software sizes a BAR (write all ones, read back the mask). The type bits are read-only.
    /// </summary>
    private void DefineBar(BarDefinition bar)
    {
        int at = Bar0 + 4 * bar.Index;
        switch (bar.Kind)
        {
            case BarKind.Io:
                _config.Define(at, 4, 0x1, writable: ~(uint)(bar.Size - 1) & 0xFFFF_FFFC);
                break;
            case BarKind.Memory32:
                _config.Define(at, 4, bar.Prefetchable ? 0x8u : 0u, writable: ~(uint)(bar.Size - 1) & 0xFFFF_FFF0);
                break;
            case BarKind.Memory64:
                ulong mask = ~(bar.Size - 1);
                _config.Define(at, 4, 0x4u | (bar.Prefetchable ? 0x8u : 0u), writable: (uint)mask & 0xFFFF_FFF0);
                _config.Define(at + 4, 4, 0, writable: (uint)(mask >> 32));
                break;
        }
    }

    private void DefineCapabilities()
    {
        var order = _layout.InOrder().ToArray();
        for (int i = 0; i < order.Length; i++)
        {
            int at = order[i];
            byte next = i + 1 < order.Length ? (byte)order[i + 1] : (byte)0;
            _config.Define(at + 1, 1, next);
        }
        if (_layout.PowerManagement is { } pm)
        {
            // PMC: version 3 (PM 1.2), no PME, D1/D2 unsupported. PMCSR: PowerState RW,
            // No_Soft_Reset set so D3hot->D0 keeps state (Linux then skips a full restore).
            _config.Define(pm, 1, CapabilityIdPowerManagement);
            _config.Define(pm + 2, 2, 0x0003);
            _config.Define(pm + 4, 2, 0x0008, writable: 0x0003);
        }
        if (_layout.Msi is { } m)
        {
            var msi = Definition.Msi!;
            uint control = (uint)(BitOperations.Log2((uint)msi.Vectors) << 1)
                | (msi.Is64Bit ? 1u << 7 : 0) | (msi.PerVectorMasking ? 1u << 8 : 0);
            _config.Define(m, 1, CapabilityIdMsi);
            _config.Define(m + 2, 2, control, writable: 0x0071);
            _config.Define(m + 4, 4, 0, writable: 0xFFFF_FFFC);
            if (msi.Is64Bit) _config.Define(m + 8, 4, 0, writable: 0xFFFF_FFFF);
            _config.Define(_layout.MsiData, 2, 0, writable: 0xFFFF);
            if (_layout.MsiMask is { } mask)
                _config.Define(mask, 4, 0, writable: msi.Vectors == 32 ? 0xFFFF_FFFF : (1u << msi.Vectors) - 1);
        }
        if (_layout.Msix is { } x)
        {
            var msix = Definition.Msix!;
            _config.Define(x, 1, CapabilityIdMsix);
            _config.Define(x + 2, 2, (uint)(msix.Vectors - 1), writable: 0xC000);
            _config.Define(x + 4, 4, msix.TableOffset | (uint)msix.TableBar);
            _config.Define(x + 8, 4, msix.PbaOffset | (uint)msix.PbaBar);
        }
        for (int i = 0; i < _layout.Vendor.Count; i++)
        {
            int at = _layout.Vendor[i];
            _config.Define(at, 1, CapabilityIdVendor);
            var capability = Definition.VendorCapabilities[i];
            var body = capability.Body;
            for (int b = 0; b < body.Length; b++) _config.Define(at + 2 + b, 1, body[b], writable: capability.Writable?[b] ?? 0);
        }
    }

    private static void OverlayDword(int offset, Span<byte> data, int at, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        for (int i = 0; i < 4; i++)
        {
            int rel = at + i - offset;
            if ((uint)rel < (uint)data.Length) data[rel] = bytes[i];
        }
    }
}
