using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>The statistics registers agree with traffic and clear on read (expectations doc 3.8).</summary>
public class StatisticsTests : IDisposable
{
    private readonly E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Counters_match_traffic_and_clear_when_read()
    {
        _rig.SetupRx(64);
        _rig.SetupTx(64);
        for (int i = 0; i < 3; i++) _rig.Inject(Frames.Raw(E1000Rig.Mac, 1000));
        _rig.Inject(Frames.Raw(MacAddress.Broadcast, 100));
        for (int i = 0; i < 5; i++) _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 500));
        _rig.TransmitLegacy(Frames.Raw(MacAddress.FromUInt64(0x01_00_5E_00_00_01), 64));

        Assert.Equal(4u, _rig.Read(Statistics.Gprc));
        Assert.Equal(4u, _rig.Read(Statistics.Tpr));
        Assert.Equal(1u, _rig.Read(Statistics.Bprc));
        Assert.Equal(3u, _rig.Read(Statistics.Prc1023));
        Assert.Equal(1u, _rig.Read(Statistics.Prc127));
        uint gorcl = _rig.Read(Statistics.Gorcl);
        Assert.Equal(3u * 1004 + 104, gorcl);
        Assert.Equal(gorcl, _rig.Read(Statistics.Gorcl));   // the low half alone does not clear
        Assert.Equal(0u, _rig.Read(Statistics.Gorch));
        Assert.Equal(0u, _rig.Read(Statistics.Gorcl));      // the high read cleared both

        Assert.Equal(6u, _rig.Read(Statistics.Gptc));
        Assert.Equal(6u, _rig.Read(Statistics.Tpt));
        Assert.Equal(1u, _rig.Read(Statistics.Mptc));
        Assert.Equal(5u * 504 + 68, _rig.Read(Statistics.Gotcl));
        Assert.Equal(0u, _rig.Read(Statistics.Gotch));
        Assert.Equal(5u * 504 + 68, _rig.Read(Statistics.Totl));

        Assert.Equal(0u, _rig.Read(Statistics.Gprc));
        Assert.Equal(0u, _rig.Read(Statistics.Gptc));
    }

    [Fact]
    public void Every_statistics_register_the_driver_reads_answers_and_ignores_writes()
    {
        for (uint offset = StatisticsFirst; offset <= StatisticsLast; offset += 4)
        {
            _rig.Write(offset, 0x1234_5678);
            Assert.Equal(0u, _rig.Read(offset));
        }
        Assert.Equal(0, _rig.Nic.Registers.UnknownReads);
    }
}
