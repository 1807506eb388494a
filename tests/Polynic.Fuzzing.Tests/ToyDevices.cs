using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Fuzzing.Devices;

namespace Polynic.Fuzzing.Tests;

/// <summary>What a deliberately broken toy device does wrong when its trigger register is written.</summary>
public enum Breakage
{
    /// <summary>Nothing: a well-behaved device.</summary>
    None,
    /// <summary>Throws from the register write.</summary>
    Throws,
    /// <summary>Reads 16 bytes that run past the end of guest RAM.</summary>
    ReadsPastRam,
    /// <summary>Computes for 120 ms of CPU time in the register write.</summary>
    Slow,
    /// <summary>Never returns from the register write (until the test releases it).</summary>
    Stuck,
    /// <summary>Stops answering its magic register, and a reset does not cure it.</summary>
    Wedges,
    /// <summary>Arms a timer whose callback throws (on a thread-pool timer, that would end the process).</summary>
    TimerThrows,
    /// <summary>Sends a GSO frame to a port whatever the port offers.</summary>
    BreaksPortContract,
}

/// <summary>
/// A tiny NIC with a 256-byte register BAR: 0x00 reads a magic value, a write to <see cref="Trigger"/>
/// does what its <see cref="Breakage"/> says. It shows that each invariant the device fuzzer checks
/// really catches the fault it is there for.
/// </summary>
public sealed class ToyDevice(Breakage breakage, TimeProvider? clock = null) : NicDevice(new NicSettings(FuzzedDevice.Mac))
{
    public const uint Magic = 0x00, Trigger = 0x10;
    public const uint MagicValue = 0x70_79_6F_74;   // "toy"

    /// <summary>The RAM the tests give the machine.</summary>
    public const ulong RamSize = 1 << 20;

    /// <summary>Holds a <see cref="Breakage.Stuck"/> write until set.</summary>
    public static readonly ManualResetEventSlim Release = new(false);

    private bool _wedged;
    private ITimer? _timer;

    public override PciFunctionDefinition Definition { get; } = new()
    {
        Identity = new PciIdentity(VendorId: 0x1234, DeviceId: 0x0707, ClassCode: 0x020000, Revision: 1, SubsystemVendorId: 0x1234, SubsystemId: 1),
        Bars = [new BarDefinition(0, BarKind.Memory32, 256)],
        Msi = new MsiCapability(),
    };

    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset == Magic && data.Length == 4 && !_wedged) BinaryPrimitives.WriteUInt32LittleEndian(data, MagicValue);
    }

    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset != Trigger) return;
        switch (breakage)
        {
            case Breakage.Throws: throw new InvalidOperationException("the toy device broke");
            case Breakage.ReadsPastRam:
                Span<byte> buffer = stackalloc byte[16];
                Context.Dma.TryRead(new GuestAddress(RamSize - 8), buffer);
                break;
            case Breakage.Slow:
                // Spins on the CPU clock: on a busy host a wall-clock spin may get too little CPU to count.
                var until = Polynic.Native.ThreadCpuClock.Now + TimeSpan.FromMilliseconds(120);
                while (Polynic.Native.ThreadCpuClock.Now < until) { }
                break;
            case Breakage.Stuck: Release.Wait(); break;
            case Breakage.Wedges: _wedged = true; break;
            case Breakage.TimerThrows:
                _timer ??= clock!.CreateTimer(_ => throw new InvalidOperationException("the toy device's timer broke"), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _timer.Change(TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
                break;
            case Breakage.BreaksPortContract:
                Span<byte> frame = stackalloc byte[128];
                frame.Clear();
                // Past the NIC core's egress, which would cut the frame itself for this port.
                Port?.Send(frame, new FrameOffload(false, 0, 0, GsoType.TcpV4, 54, 1448));
                break;
        }
    }

    protected override void ResetDevice()
    {
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    protected override void ReceiveFrame(ReadOnlySpan<byte> frame) { }

    /// <summary>The toy as a fuzzing target: hints on its two registers, a sanity check of the magic.</summary>
    internal static DeviceTarget Target(Breakage breakage) =>
        breakage == Breakage.TimerThrows
            ? DeviceTarget.ForDevice("toy", clock => new ToyDevice(breakage, clock), takesClock: true, new ToyProfile())
            : DeviceTarget.ForDevice("toy", _ => new ToyDevice(breakage), takesClock: false, new ToyProfile());

    private sealed class ToyProfile : DeviceProfile
    {
        public override IReadOnlyList<RegisterHint> Registers { get; } = [new RegisterHint(0, Magic, 4), new RegisterHint(0, Trigger, 4)];

        public override string? Check(FuzzedDevice d) =>
            d.Read(0, Magic, 4) == MagicValue ? null : $"the magic register reads 0x{d.Read(0, Magic, 4):x8}";
    }
}

/// <summary>Guest memory that, broken, lets reads outside RAM succeed (zeros): the escape check must catch it.</summary>
internal sealed class LeakyMemory(IGuestMemory memory) : IGuestMemory
{
    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        if (memory.TryRead(address, destination)) return true;
        destination.Clear();
        return true;
    }

    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source) => memory.TryWrite(address, source);
}
