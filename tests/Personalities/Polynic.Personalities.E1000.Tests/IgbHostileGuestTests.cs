using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// A hostile guest against the 82576 (first cut; the full suite mirrors HostileGuestTests next):
/// random register writes with MSI-X on, rings and buffers outside RAM, absurd TSO. Every mistake
/// is counted, the function never fails, and afterwards a reset device passes traffic.
/// </summary>
public class IgbHostileGuestTests : IDisposable
{
    private readonly IgbRig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Random_register_writes_with_msix_never_fail_the_function()
    {
        _rig.EnableMsix();
        _rig.Nic.ReceiveBackpressureLimit = TimeSpan.Zero;
        var random = new Random(4321);
        for (int i = 0; i < 20000; i++)
        {
            uint offset = (uint)random.Next(0, 0x20000) & ~3u;
            if (offset is Ctrl) continue;   // resets are fine but would hide the rest
            uint value = (uint)random.NextInt64(0, 1L << 32);
            _rig.Write(offset, value);
            if (i % 7 == 0) _rig.Read((uint)random.Next(0, 0x20000) & ~3u);
            if (i % 13 == 0) _rig.Inject(Frames.Raw(random.Next(2) == 0 ? IgbRig.Mac : MacAddress.Broadcast, random.Next(14, 9000)));
        }
        AssertStillWorks();
    }

    [Fact]
    public void Rings_and_buffers_outside_guest_memory_are_counted()
    {
        _rig.SetupRx();
        _rig.Write(RxQueue(0, QBal), 0xFFFF_F000);
        _rig.Write(RxQueue(0, QBah), 0xFFFF_FFFF);
        _rig.Nic.ReceiveBackpressureLimit = TimeSpan.Zero;
        _rig.Inject(Frames.Raw(IgbRig.Mac, 100));
        _rig.SetupTx();
        _rig.QueueTx(0xFFFF_FFFF_0000, 100u | 3u << 20 | 1u << 29 | 1u << 24 | 1u << 27, 0);
        _rig.Write(TxQueue(0, QTail), _rig.TxTail);
        Assert.True(_rig.Nic.Counters.DmaFaults + _rig.Nic.Counters.DescriptorFaults >= 2);
        Assert.Empty(_rig.Wire.Frames);
        AssertStillWorks();
    }

    [Theory]
    [InlineData(0, 1448)]
    [InlineData(20, 0)]
    [InlineData(255, 1)]
    public void Tso_with_absurd_parameters_is_refused_and_counted(int l4Length, int mss)
    {
        _rig.SetupTx();
        _rig.QueueTx(20u | 14u << 9, 1u << 29 | 2u << 20 | 1u << 10 | 1u << 11, (uint)mss << 16 | (uint)l4Length << 8);
        var frame = Frames.Tcp(Frames.Peer, IgbRig.Mac, new byte[3000]);
        frame.CopyTo(_rig.Ram(0x60_0000, frame.Length));
        uint last = _rig.QueueTx(0x60_0000, (uint)frame.Length | 1u << 29 | 3u << 20 | 1u << 31 | 1u << 24 | 1u << 27, 0);
        _rig.Write(TxQueue(0, QTail), _rig.TxTail);
        Assert.True(_rig.TxDone(last));
        Assert.True(_rig.Nic.Counters.TxErrors > 0);
        AssertStillWorks();
    }

    private void AssertStillWorks()
    {
        Assert.Null(_rig.Machine.Function(_rig.Slot).FailureReason);
        _rig.Write(Ctrl, E1000Bits.CtrlRst);
        _rig.Wire.Clear();
        _rig.SetupRx();
        _rig.SetupTx();
        var frame = Frames.Raw(Frames.Peer, 200, seed: 42);
        uint index = _rig.TransmitAdvanced(frame);
        Assert.True(_rig.TxDone(index));
        Assert.Equal(frame, Assert.Single(_rig.Wire.Frames));
        var incoming = Frames.Raw(IgbRig.Mac, 300, seed: 43);
        _rig.Inject(incoming);
        Assert.Equal(3u, _rig.RxWriteBack(0, 0).StatusError & 3);
        Assert.Equal(incoming, _rig.Ram(IgbRig.RxBuffer(0, 0), 300).ToArray());
    }
}
