using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>e1000_ethtool.c e1000_reg_test for an 82540, step by step (expectations doc 2.1). QEMU fails it at FCAL ("Register test 40").</summary>
public class EthtoolRegisterTestTests : IDisposable
{
    private static readonly uint[] Patterns = [0x5A5A5A5A, 0xA5A5A5A5, 0x00000000, 0xFFFFFFFF];
    private readonly E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Status_test_passes()
    {
        uint before = _rig.Read(Status);
        uint value = before & 0xFFFFF833;
        _rig.Write(Status, 0xFFFFF833);
        Assert.Equal(value, _rig.Read(Status) & 0xFFFFF833);
        _rig.Write(Status, before);
    }

    [Fact]
    public void Whole_register_test_passes_in_order()
    {
        Pattern(Fcal, 0xFFFFFFFF, 0xFFFFFFFF);
        Pattern(Fcah, 0x0000FFFF, 0xFFFFFFFF);
        Pattern(Fct, 0x0000FFFF, 0xFFFFFFFF);
        Pattern(Vet, 0x0000FFFF, 0xFFFFFFFF);
        Pattern(Rdtr, 0x0000FFFF, 0xFFFFFFFF);
        Pattern(Rdbah, 0xFFFFFFFF, 0xFFFFFFFF);
        Pattern(Rdlen, 0x000FFF80, 0x000FFFFF);
        Pattern(Rdh, 0x0000FFFF, 0x0000FFFF);
        Pattern(Rdt, 0x0000FFFF, 0x0000FFFF);
        Pattern(Fcrth, 0x0000FFF8, 0x0000FFF8);
        Pattern(Fcttv, 0x0000FFFF, 0x0000FFFF);
        Pattern(Tipg, 0x3FFFFFFF, 0x3FFFFFFF);
        Pattern(Tdbah, 0xFFFFFFFF, 0xFFFFFFFF);
        Pattern(Tdlen, 0x000FFF80, 0x000FFFFF);
        SetAndCheck(Rctl, 0xFFFFFFFF, 0x00000000);
        SetAndCheck(Rctl, 0x06DFB3FE, 0x003FFFFB);
        SetAndCheck(Tctl, 0xFFFFFFFF, 0x00000000);
        SetAndCheck(Rctl, 0x06DFB3FE, 0xFFFFFFFF);
        Pattern(Rdbal, 0xFFFFFFF0, 0xFFFFFFFF);
        Pattern(Txcw, 0xC000FFFF, 0x0000FFFF);
        Pattern(Tdbal, 0xFFFFFFF0, 0xFFFFFFFF);
        Pattern(Tidv, 0x0000FFFF, 0x0000FFFF);
        for (uint i = 0; i < 15; i++) Pattern(Rah + 8 * i, 0x8003FFFF, 0xFFFFFFFF);
        for (uint i = 0; i < 128; i++) Pattern(Mta + 4 * i, 0xFFFFFFFF, 0xFFFFFFFF);
    }

    [Fact]
    public void A_frame_arriving_in_the_register_test_state_is_dropped_safely()
    {
        // After the test: RCTL EN with LBM=11, RDBAH all ones, RDLEN 0xFFF80, RDH = RDT = 0xFFFF.
        Whole_register_test_passes_in_order();
        Assert.True(_rig.Inject(Frames.Raw(Polynic.Core.Nic.MacAddress.Broadcast, 100)));
        Assert.Null(_rig.Machine.Function(_rig.Slot).FailureReason);
        _rig.LinuxResetHw();
        Assert.Equal(0u, _rig.Read(Rctl));
        Assert.Equal(0x8100u, _rig.Read(Vet));
    }

    private void Pattern(uint register, uint mask, uint write)
    {
        foreach (uint p in Patterns)
        {
            _rig.Write(register, write & p);
            uint read = _rig.Read(register);
            Assert.True(read == (write & p & mask), $"register 0x{register:x4} pattern 0x{p:x8}: read 0x{read:x8}, expected 0x{write & p & mask:x8}");
        }
    }

    private void SetAndCheck(uint register, uint mask, uint write)
    {
        _rig.Write(register, write & mask);
        uint read = _rig.Read(register);
        Assert.True((read & mask) == (write & mask), $"register 0x{register:x4}: read 0x{read:x8}");
    }
}
