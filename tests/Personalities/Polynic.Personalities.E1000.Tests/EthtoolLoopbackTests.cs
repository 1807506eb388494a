using System.Buffers.Binary;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// e1000_ethtool.c e1000_loopback_test for an 82540 (expectations doc 2.4): PHY loopback through
/// BMCR bit 14, 256-descriptor rings, 10 rounds of 64 frames. QEMU fails it ("Loopback test 13").
/// </summary>
public class EthtoolLoopbackTests : IDisposable
{
    private const int Count = 256;
    private const ulong TxBufferBase = 0x80_0000;
    private readonly E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Phy_loopback_test_passes_all_rounds_and_nothing_reaches_the_wire()
    {
        _rig.LinuxResetHw();
        SetupDescriptorRings();
        SetupPhyLoopback();

        _rig.Write(Rdt, Count - 1);
        int k = 0, l = 0;
        for (int round = 0; round < 10; round++)
        {
            for (int i = 0; i < 64; i++)
            {
                CreateLbTestFrame(TxBuffer(i));
                if (++k == Count) k = 0;
            }
            _rig.Write(Tdt, (uint)k);
            int good = 0, scanned = 0;
            do
            {
                if (CheckLbTestFrame(RxBuffer(l))) good++;
                if (++l == Count) l = 0;
            }
            while (good < 64 && ++scanned < 4 * Count);
            Assert.True(good == 64, $"round {round}: {good} good frames (ethtool would report 13)");
        }
        Assert.Equal(0, _rig.Wire.Count);
        Assert.True(_rig.TxDone(0) && _rig.TxDone(63), "RPS descriptors get DD");

        // e1000_loopback_cleanup: LBM cleared, BMCR loopback off + PHY reset, then e1000_reset.
        _rig.Write(Rctl, _rig.Read(Rctl) & ~RctlLbmMask);
        MdicWrite(0, 0x8140 & ~0x4000 | 0x8000);
        _rig.LinuxResetHw();
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
    }

    [Fact]
    public void Round_zero_frames_are_in_the_receive_ring_right_after_the_tail_write()
    {
        _rig.LinuxResetHw();
        SetupDescriptorRings();
        SetupPhyLoopback();
        _rig.Write(Rdt, Count - 1);
        for (int i = 0; i < 64; i++) CreateLbTestFrame(TxBuffer(i));
        _rig.Write(Tdt, 64);
        for (int i = 0; i < 64; i++)
        {
            Assert.True(CheckLbTestFrame(RxBuffer(i)), $"frame {i}");
            var d = _rig.Ram(E1000Rig.RxRing + (ulong)i * 16, 16);
            Assert.Equal(1028, BinaryPrimitives.ReadUInt16LittleEndian(d[8..]));   // 1024 + FCS (no SECRC)
            Assert.Equal(0x03, d[12] & 0x03);
            Assert.Equal(0, d[13]);
        }
        Assert.Equal(64u, _rig.Read(Rdh));
    }

    [Fact]
    public void Mac_loopback_rctl_lbm_also_delivers_to_the_receive_ring()
    {
        _rig.SetupRx(16, RctlEn | RctlBam | RctlLbmMac);
        _rig.SetupTx(16);
        var frame = Frames.Raw(Polynic.Core.Nic.MacAddress.Broadcast, 200, seed: 9);
        _rig.TransmitLegacy(frame);
        var received = _rig.ReceiveFrame(out _);
        Assert.NotNull(received);
        Assert.Equal(frame, received[..200]);
        Assert.Equal(0, _rig.Wire.Count);
    }

    [Fact]
    public void Wire_frames_are_not_received_while_looping_back()
    {
        _rig.SetupRx(16, RctlEn | RctlBam);
        SetupPhyLoopback();
        _rig.Inject(Frames.Raw(Polynic.Core.Nic.MacAddress.Broadcast, 100));
        Assert.Null(_rig.ReceiveFrame(out _));
    }

    private void SetupDescriptorRings()
    {
        // Transmit: 256 legacy descriptors, 1024-byte buffers, EOP|IFCS|RPS.
        _rig.Write(Tdbal, (uint)E1000Rig.TxRing);
        _rig.Write(Tdbah, 0);
        _rig.Write(Tdlen, Count * 16);
        _rig.Write(Tdh, 0);
        _rig.Write(Tdt, 0);
        _rig.Write(Tctl, 0x0003_F0FA);
        for (int i = 0; i < Count; i++)
        {
            _rig.Ram(TxBuffer(i), 1024).Clear();
            _rig.WriteTxDescriptor((uint)i, TxBuffer(i), 1024 | TransmitDescriptor.CmdEop | TransmitDescriptor.CmdIfcs | TransmitDescriptor.CmdRps, 0);
        }
        // Receive: RCTL without EN, ring, then EN|BAM|SZ_2048.
        _rig.Write(Rctl, _rig.Read(Rctl) & ~RctlEn);
        _rig.Write(Rdbal, (uint)E1000Rig.RxRing);
        _rig.Write(Rdbah, 0);
        _rig.Write(Rdlen, Count * 16);
        _rig.Write(Rdh, 0);
        _rig.Write(Rdt, 0);
        _rig.Write(Rctl, 0x0000_8002);
        for (int i = 0; i < Count; i++)
        {
            _rig.Ram(RxBuffer(i), 2048).Clear();
            var d = _rig.Ram(E1000Rig.RxRing + (ulong)i * 16, 16);
            d.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(d, RxBuffer(i));
        }
    }

    private void SetupPhyLoopback()
    {
        MdicWrite(0x10, 0x0808);
        MdicWrite(0, 0x9140);
        MdicWrite(0, 0x8140);
        MdicWrite(0, 0x4140);
        uint ctrl = _rig.Read(Ctrl) & ~CtrlSpeedMask;
        _rig.Write(Ctrl, ctrl | CtrlFrcSpd | CtrlFrcDpx | CtrlSpeed1000 | CtrlFd | CtrlIlos);
        MdicWrite(29, 0x001F);
        MdicWrite(30, 0x8FFC);
        MdicWrite(29, 0x001A);
        MdicWrite(30, 0x8FF0);
        Assert.Equal(StatusLu | StatusFd | StatusSpeed1000, _rig.Read(Status) & (StatusLu | StatusFd | 3u << 6));
    }

    private static ulong TxBuffer(int i) => TxBufferBase + (ulong)i * 1024;
    private static ulong RxBuffer(int i) => E1000Rig.RxBuffers + (ulong)i * 2048;

    private void CreateLbTestFrame(ulong address)
    {
        var b = _rig.Ram(address, 1024);
        b[..512].Fill(0xFF);
        b[512..].Fill(0xAA);
        b[1023] = 0xFF;
        b[512 + 10] = 0xBE;
        b[512 + 12] = 0xAF;
    }

    private bool CheckLbTestFrame(ulong address)
    {
        var b = _rig.Ram(address, 1024);
        return b[3] == 0xFF && b[512 + 10] == 0xBE && b[512 + 12] == 0xAF;
    }

    private void MdicWrite(int register, int value) =>
        _rig.Write(Mdic, MdicOpWrite | 1u << MdicPhyShift | (uint)register << MdicRegisterShift | (ushort)value);
}
