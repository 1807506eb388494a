using System.Buffers.Binary;
using System.Reflection;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.TestMachine;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// One device under fuzz for one run: plugged into a fresh in-process machine, its DMA going
/// through a <see cref="MemoryAudit"/>, its interrupts to an <see cref="InterruptAudit"/>, its
/// frames to a <see cref="FuzzPort"/>. Register, configuration and RAM accesses as a guest driver
/// makes them, for the step generator and the sanity drivers alike.
/// </summary>
internal sealed class FuzzedDevice
{
    /// <summary>The station address every fuzzed NIC gets.</summary>
    public static readonly MacAddress Mac = MacAddress.FromUInt64(0x52_54_00_F0_22_01);

    private static readonly PropertyInfo SyncProperty =
        typeof(NicDevice).GetProperty("Sync", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new MissingMemberException(nameof(NicDevice), "Sync");

    private const int CommandRegister = 0x04;
    private const ushort CommandBusMaster = 1 << 2, CommandInterruptDisable = 1 << 10;
    private readonly ulong[] _bases;

    public FuzzedDevice(IPciDevice device, int ramSize, PortCapabilities portCapabilities, ManualClock? clock,
        Func<IGuestMemory, IGuestMemory>? memoryLayer)
    {
        Device = device;
        Clock = clock;
        Machine = new Machine(ramSize);
        Slot = Machine.Plug(device, "fuzz");
        Function = Machine.Function(Slot);
        IGuestMemory ram = Machine.Ram;
        Audit = new MemoryAudit(memoryLayer is null ? ram : memoryLayer(ram), (ulong)ramSize);
        Function.Connect(Audit, Interrupts);
        _bases = Machine.Enumerate(Slot);
        RefreshCommand();
        Capabilities = CapabilityOffsets.Find(this);
        if (device is NicDevice nic)
        {
            Nic = nic;
            DeviceLock = SyncProperty.GetValue(nic);
            // A fuzzed guest often has no receive buffers; waiting for them would only stall the step.
            nic.ReceiveBackpressureLimit = TimeSpan.Zero;
            Port = new FuzzPort(portCapabilities);
            nic.AttachPort(Port);
        }
    }

    public IPciDevice Device { get; }
    public NicDevice? Nic { get; }
    public Machine Machine { get; }
    public int Slot { get; }
    public PciFunction Function { get; }
    public MemoryAudit Audit { get; }
    public InterruptAudit Interrupts { get; } = new();
    public FuzzPort? Port { get; }
    public ManualClock? Clock { get; }
    public CapabilityOffsets Capabilities { get; }

    /// <summary>The lock every path of a NIC runs under (its <c>NicDevice.Sync</c>); null for other devices.</summary>
    public object? DeviceLock { get; }

    public IReadOnlyList<BarDefinition> Bars => Function.Definition.Bars;
    public int RamSize => Machine.Ram.Size;
    public bool InterruptDisabled { get; private set; }

    /// <summary>The bus address firmware gave BAR <paramref name="bar"/> at the last enumeration.</summary>
    public ulong BarBase(int bar) => _bases[bar];

    public Span<byte> Ram(ulong address, int length) => Machine.Ram.Span(address, length);

    /// <summary>A BAR read of 1, 2, 4 or 8 bytes straight to the function (the way vfio-user delivers it).</summary>
    public ulong Read(int bar, ulong offset, int width)
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        Function.ReadBar(bar, offset, b[..width]);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <summary>A BAR write of 1, 2, 4 or 8 bytes straight to the function.</summary>
    public void Write(int bar, ulong offset, ulong value, int width)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Function.WriteBar(bar, offset, b[..width]);
    }

    public uint ConfigRead(int offset, int width) => Machine.ConfigRead(Slot, offset, width);

    public void ConfigWrite(int offset, uint value, int width)
    {
        // The write takes effect before the core re-evaluates interrupts, so messages held back while
        // bus mastering was off may go out during this very write if it turns it on: the audit must
        // know the new value first. Bit 2 of byte 4 is Bus Master Enable, a writable bit.
        if (offset <= CommandRegister && CommandRegister < offset + width)
            Interrupts.BusMaster = ((value >> (8 * (CommandRegister - offset))) & CommandBusMaster) != 0;
        Machine.ConfigWrite(Slot, offset, value, width);
        RefreshCommand();
    }

    /// <summary>Function-level reset, then what firmware does: BARs assigned, I/O, memory and bus mastering on.</summary>
    public void ResetAndEnumerate()
    {
        Function.Reset();
        var bases = Machine.Enumerate(Slot);
        bases.CopyTo(_bases, 0);
        RefreshCommand();
    }

    /// <summary>Function-level reset only: the function is left as firmware finds it, disabled.</summary>
    public void Reset()
    {
        Function.Reset();
        RefreshCommand();
    }

    /// <summary>
    /// Runs device work that a thread of the device's own would run in a server (virtio-net's queue
    /// processing), here on the fuzzing thread and under the device's lock as that thread takes it.
    /// That thread catches what the work throws and takes the device out of service; so does this
    /// (<see cref="WorkFailure"/>), so a throw is a failed device, not an escaped exception.
    /// </summary>
    public void RunDeviceWork(string what, Action work)
    {
        try
        {
            if (DeviceLock is null) work();
            else lock (DeviceLock) work();
        }
        catch (Exception e)
        {
            WorkFailure ??= $"{what} threw {DeviceRun.Describe(e)}";
        }
    }

    /// <summary>What device work run by <see cref="RunDeviceWork"/> threw, or null.</summary>
    public string? WorkFailure { get; private set; }

    /// <summary>Reads back the command register so the interrupt audit knows what the guest allowed.</summary>
    private void RefreshCommand()
    {
        uint command = ConfigRead(CommandRegister, 2);
        Interrupts.BusMaster = (command & CommandBusMaster) != 0;
        InterruptDisabled = (command & CommandInterruptDisable) != 0;
    }
}

/// <summary>Where the function's capabilities sit in configuration space (0 when absent).</summary>
internal sealed record CapabilityOffsets(int Msi, int Msix, int PowerManagement, IReadOnlyList<(int Offset, int Length)> Vendor)
{
    /// <summary>Walks the capability list as a driver does (bounded: at most 48 entries fit in 192 bytes).</summary>
    public static CapabilityOffsets Find(FuzzedDevice d)
    {
        int msi = 0, msix = 0, pm = 0;
        var vendor = new List<(int, int)>();
        if ((d.ConfigRead(0x06, 2) & 0x10) != 0)
        {
            int at = (int)d.ConfigRead(0x34, 1) & 0xFC;
            for (int guard = 0; at >= 0x40 && guard < 48; guard++)
            {
                switch (d.ConfigRead(at, 1))
                {
                    case 0x01: pm = at; break;
                    case 0x05: msi = at; break;
                    case 0x11: msix = at; break;
                    case 0x09: vendor.Add((at, (int)d.ConfigRead(at + 2, 1))); break;
                }
                at = (int)d.ConfigRead(at + 1, 1) & 0xFC;
            }
        }
        return new CapabilityOffsets(msi, msix, pm, vendor);
    }
}
