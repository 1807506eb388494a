using Polynic.Core.Memory;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Pci;

public class DeviceIsolationTests
{
    [Fact]
    public void A_throwing_device_fails_alone_and_reads_as_all_ones()
    {
        var m = new Machine();
        var bad = new ProbeDevice(ProbeDevice.FullDefinition());
        var good = new ProbeDevice(ProbeDevice.FullDefinition());
        int b = m.Plug(bad), g = m.Plug(good);
        var badBars = m.Enumerate(b);
        var goodBars = m.Enumerate(g);

        bad.ThrowOnAccess = true;
        m.MmioWrite(badBars[0], 1);
        Assert.Contains("probe failure", m.Function(b).FailureReason);
        Assert.Equal(0xFFFF_FFFFu, m.MmioRead(badBars[0]));

        m.MmioWrite(goodBars[0] + 4, 42);
        Assert.Equal(42u, m.MmioRead(goodBars[0] + 4));
        Assert.Null(m.Function(g).FailureReason);
        Assert.Equal(0x100E_8086u, m.ConfigRead(b, 0));
    }

    [Fact]
    public void Dma_is_refused_without_bus_mastering_or_outside_ram()
    {
        var m = new Machine(ramSize: 1 << 16);
        var device = new ProbeDevice(ProbeDevice.FullDefinition());
        int s = m.Plug(device);
        var dma = device.Context.Dma;
        Assert.False(dma.TryWrite(new GuestAddress(0x100), [1, 2, 3]));
        Assert.Equal(1, m.Function(s).RefusedDmaCount);

        m.Enumerate(s);
        Assert.True(dma.TryWrite(new GuestAddress(0x100), [1, 2, 3]));
        Assert.Equal(new byte[] { 1, 2, 3 }, m.Ram.Span(0x100, 3).ToArray());
        Assert.False(dma.TryWrite(new GuestAddress(0xFFFF), [1, 2]));
        Assert.False(dma.TryRead(new GuestAddress(ulong.MaxValue), new byte[1]));
        Assert.False(dma.TryRead(new GuestAddress(0x10000), new byte[1]));
        Assert.True(dma.TryRead(new GuestAddress(0xFFFF), new byte[1]));
    }

    [Fact]
    public void Disconnected_function_keeps_its_state_and_refuses_dma()
    {
        var m = new Machine();
        var device = new ProbeDevice(ProbeDevice.FullDefinition());
        int s = m.Plug(device);
        var bars = m.Enumerate(s);
        m.MmioWrite(bars[0], 7);
        m.Function(s).Disconnect();
        Assert.False(device.Context.Dma.TryWrite(new GuestAddress(0), [1]));
        Assert.Equal(7u, m.MmioRead(bars[0]));
        m.Function(s).Connect(m.Ram, m.Interrupts(s));
        Assert.True(device.Context.Dma.TryWrite(new GuestAddress(0), [1]));
    }
}
