using Polynic.Core.Nic;
using Polynic.Core.Pci;

namespace Polynic.Fuzzing.Devices;

/// <summary>The kinds of operation a device fuzzing step performs.</summary>
internal enum StepKind
{
    BarRead, BarWrite, ConfigRead, ConfigWrite, InterruptMode, GuestMemory, Frame, Doorbell, Reset, Link, Clock,
}

/// <summary>
/// Picks and performs one operation per step against a <see cref="FuzzedDevice"/>, as a hostile
/// guest driver and a hostile network would: BAR accesses of 1/2/4/8 bytes, configuration space
/// (command register, MSI/MSI-X, power state, BARs), interrupt-mode changes, adversarial guest RAM,
/// injected frames, doorbells, resets, carrier changes and, for devices on the manual clock, time.
/// Every choice comes from the run's <see cref="FuzzRandom"/>, so a seed replays the run.
/// </summary>
internal sealed class DeviceSteps
{
    /// <summary>Relative weights of <see cref="StepKind"/>, in its order.</summary>
    private static readonly int[] BaseWeights = [180, 260, 30, 50, 20, 150, 100, 120, 5, 5, 30];

    private readonly FuzzedDevice _d;
    private readonly DeviceProfile _profile;
    private readonly IReadOnlyList<RegisterHint> _hints;
    private readonly FuzzRandom _random;
    private readonly AdversarialValues _values;
    private readonly GuestMemoryWriter _memory;
    private readonly FrameGenerator _frames;
    private readonly int[] _weights;

    public DeviceSteps(FuzzedDevice d, DeviceProfile profile, IReadOnlyList<RegisterHint> hints, FuzzRandom random)
    {
        _d = d;
        _profile = profile;
        _hints = hints;
        _random = random;
        _values = new AdversarialValues(random, d.RamSize);
        _memory = new GuestMemoryWriter(d, _values);
        _frames = new FrameGenerator(random);
        _weights = (int[])BaseWeights.Clone();
        if (d.Port is null) _weights[(int)StepKind.Frame] = _weights[(int)StepKind.Link] = 0;
        if (!profile.HasDoorbells) _weights[(int)StepKind.Doorbell] = 0;
        if (d.Clock is null) _weights[(int)StepKind.Clock] = 0;
    }

    /// <summary>A running hash of everything the device answered, for determinism checks.</summary>
    public ulong Trace { get; private set; } = 0xCBF2_9CE4_8422_2325;

    /// <summary>The kind of the step being performed (or last performed): what an exception escaped from.</summary>
    public StepKind Current { get; private set; }

    /// <summary>Performs one step and says which kind it was.</summary>
    public StepKind Step()
    {
        var kind = (StepKind)_random.Weighted(_weights);
        Current = kind;
        switch (kind)
        {
            case StepKind.BarRead: BarAccess(write: false); break;
            case StepKind.BarWrite: BarAccess(write: true); break;
            case StepKind.ConfigRead: Mix(_d.ConfigRead(_random.Below(PciFunction.ConfigSpaceSize / 4) * 4, 4)); break;
            case StepKind.ConfigWrite: ConfigWrite(); break;
            case StepKind.InterruptMode: InterruptMode(); break;
            case StepKind.GuestMemory: _memory.Write(); break;
            case StepKind.Frame: InjectFrame(); break;
            case StepKind.Doorbell: _profile.Doorbell(_d, _values); break;
            case StepKind.Reset: Reset(); break;
            case StepKind.Link: _d.Port!.SetLink(_random.OneIn(3) ? !_d.Port.LinkUp : true); break;
            case StepKind.Clock: _d.Clock!.Advance(TimeSpan.FromTicks(_random.Pick<long>([10, 80, 500, 2_560, 10_000, 100_000, 1_000_000, 10_000_000]))); break;
        }
        return kind;
    }

    private void BarAccess(bool write)
    {
        var r = _random;
        int bar;
        ulong offset;
        int width = r.Pick<int>([1, 2, 4, 4, 4, 8]);
        if (_hints.Count > 0 && r.Coin())
        {
            var hint = _hints[r.Below(_hints.Count)];
            bar = hint.Bar;
            offset = hint.Offset;
            // Mostly the register's own width; otherwise an access that spans its neighbours too.
            if (!r.OneIn(4)) width = hint.Width;
        }
        else
        {
            var definition = _d.Bars[r.Below(_d.Bars.Count)];
            bar = definition.Index;
            offset = r.Below(definition.Size);
            if (!r.OneIn(5)) offset &= ~(ulong)(width - 1);
        }
        ulong size = _d.Function.Definition.FindBar(bar)!.Size;
        while ((ulong)width > size) width /= 2;
        offset = Math.Min(offset, size - (ulong)width);
        if (write)
        {
            ulong value = _values.Value(width);
            if (width >= 4) _values.Remember(value & 0xFFFF_FFFF);
            if (width <= 4 && r.OneIn(6)) BusWrite(bar, offset, value, width);
            else _d.Write(bar, offset, value, width);
        }
        else
        {
            Mix(width <= 4 && r.OneIn(6) ? BusRead(bar, offset, width) : _d.Read(bar, offset, width));
        }
    }

    /// <summary>Through the machine's bus decode, as a guest CPU reaches the BAR (master abort if the guest moved or disabled it).</summary>
    private ulong BusRead(int bar, ulong offset, int width)
    {
        ulong at = _d.BarBase(bar) + offset;
        return _d.Function.Definition.FindBar(bar)!.Kind == BarKind.Io ? _d.Machine.IoRead(at, width) : _d.Machine.MmioRead(at, width);
    }

    private void BusWrite(int bar, ulong offset, ulong value, int width)
    {
        ulong at = _d.BarBase(bar) + offset;
        if (_d.Function.Definition.FindBar(bar)!.Kind == BarKind.Io) _d.Machine.IoWrite(at, (uint)value, width);
        else _d.Machine.MmioWrite(at, (uint)value, width);
    }

    private void ConfigWrite()
    {
        var r = _random;
        var caps = _d.Capabilities;
        switch (r.Below(10))
        {
            case 0 or 1 or 2:
                // The command register: bus mastering and INTx disable flip; now and then everything
                // back on as firmware leaves it (else a run would spend most of its time without DMA).
                uint command = _d.ConfigRead(0x04, 2);
                command = r.Below(10) switch
                {
                    < 4 => command ^ 1u << 10,
                    < 6 => command ^ 1u << 2,
                    < 8 => 0x7u | (r.Coin() ? 1u << 10 : 0),
                    8 => command ^ r.Pick<uint>([1u << 0, 1u << 1, 1u << 6 | 1u << 8]),
                    _ => r.NextUInt32() & 0xFFFF,
                };
                _d.ConfigWrite(0x04, command, 2);
                break;
            case 3 when caps.Msi != 0:
                _d.ConfigWrite(caps.Msi + r.Pick<int>([2, 4, 8, 12, 16]), (uint)_values.Value(4), r.Pick<int>([2, 4]));
                break;
            case 4 when caps.Msix != 0:
                _d.ConfigWrite(caps.Msix + 2, r.Pick<uint>([0x8000, 0xC000, 0x4000, 0]) | (uint)r.Below(0x800), 2);
                break;
            case 5 when caps.PowerManagement != 0:
                _d.ConfigWrite(caps.PowerManagement + 4, (uint)r.Below(4) | (r.OneIn(4) ? 0x8000u : 0), 2);
                break;
            case 6 when caps.Vendor.Count > 0:
                var (at, length) = caps.Vendor[r.Below(caps.Vendor.Count)];
                int width = r.Pick<int>([1, 2, 4]);
                _d.ConfigWrite(Math.Min(at + 2 + r.Below(Math.Max(1, length - 2)), PciFunction.ConfigSpaceSize - width), (uint)_values.Value(width), width);
                // The access window (virtio PCI_CFG) acts on a read of its data field too.
                if (r.Coin()) Mix(_d.ConfigRead(Math.Min(at + length - 4, PciFunction.ConfigSpaceSize - 4), 4));
                break;
            case 7:
                int bar = 0x10 + 4 * r.Below(6);
                _d.ConfigWrite(bar, r.Coin() ? 0xFFFF_FFFF : (uint)_values.Value(4), 4);
                break;
            default:
                int w = r.Pick<int>([1, 2, 4]);
                _d.ConfigWrite(r.Below(PciFunction.ConfigSpaceSize / w) * w, (uint)_values.Value(w), w);
                break;
        }
    }

    /// <summary>A driver switching interrupt mechanisms: INTx, MSI with some vectors, or MSI-X with its table programmed.</summary>
    private void InterruptMode()
    {
        var r = _random;
        var caps = _d.Capabilities;
        switch (r.Below(3))
        {
            case 0:
                if (caps.Msi != 0) _d.ConfigWrite(caps.Msi + 2, 0, 2);
                if (caps.Msix != 0) _d.ConfigWrite(caps.Msix + 2, 0, 2);
                _d.ConfigWrite(0x04, (_d.ConfigRead(0x04, 2) & ~(1u << 10)) | (r.OneIn(4) ? 1u << 10 : 0), 2);
                break;
            case 1 when caps.Msi != 0:
                _d.ConfigWrite(caps.Msi + 4, 0xFEE0_0000 | (uint)r.Below(256) << 12, 4);
                _d.ConfigWrite(caps.Msi + r.Pick<int>([8, 12]), r.NextUInt32() & 0xFFFF, 2);
                _d.ConfigWrite(caps.Msi + 2, 1u | (uint)r.Below(8) << 4, 2);
                break;
            case 2 when caps.Msix != 0:
                uint table = _d.ConfigRead(caps.Msix + 4, 4);
                int vectors = (int)(_d.ConfigRead(caps.Msix + 2, 2) & 0x7FF) + 1;
                for (int i = 0, n = r.Between(1, Math.Min(vectors, 8)); i < n; i++)
                {
                    ulong entry = (table & ~7u) + (ulong)r.Below(vectors) * 16;
                    _d.Write((int)(table & 7), entry, 0xFEE0_0000 | (ulong)r.Below(256) << 12, 8);
                    _d.Write((int)(table & 7), entry + 8, r.NextUInt32() & 0xFFFF | (r.OneIn(4) ? 1UL << 32 : 0), 8);
                }
                _d.ConfigWrite(caps.Msix + 2, r.OneIn(6) ? 0xC000u : 0x8000u, 2);
                break;
        }
    }

    private void InjectFrame()
    {
        var receiver = _d.Port!.Receiver;
        if (receiver is null) return;
        var frame = _frames.Next(receiver.ReceiveCapabilities, out var offload);
        if (offload is { } o) receiver.Receive(frame, o);
        else receiver.Receive(frame);
    }

    private void Reset()
    {
        var r = _random;
        // Mostly what a guest does after a reset (firmware enumerates, the driver probes again): a
        // device left blank would keep the data path off for the rest of the run.
        switch (r.Below(8))
        {
            case 0: _d.Reset(); break;
            case 1: _d.ResetAndEnumerate(); break;
            default:
                _d.ResetAndEnumerate();
                _profile.Initialize(_d, _random);
                break;
        }
    }

    private void Mix(ulong value) => Trace = (Trace ^ value) * 0x0000_0100_0000_01B3;
}
