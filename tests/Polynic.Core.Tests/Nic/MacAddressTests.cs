using CsCheck;
using Polynic.Core.Nic;

namespace Polynic.Core.Tests.Nic;

public class MacAddressTests
{
    [Fact]
    public void Parses_and_formats_qemu_default_address()
    {
        var mac = MacAddress.Parse("52:54:00:12:34:56");
        Assert.Equal(0x5254_0012_3456UL, mac.ToUInt64());
        Assert.Equal("52:54:00:12:34:56", mac.ToString());
        Assert.True(mac.IsUnicast);
        Assert.True(mac.IsLocallyAdministered);
        Assert.False(mac.IsMulticast);
        Assert.Equal(0x56, mac[5]);
    }

    [Theory]
    [InlineData("01:00:5E:00:00:01", true, false)]
    [InlineData("33-33-00-00-00-01", true, false)]
    [InlineData("ff:ff:ff:ff:ff:ff", true, true)]
    [InlineData("00:1b:21:aa:bb:cc", false, false)]
    public void Classifies_group_and_broadcast_addresses(string text, bool multicast, bool broadcast)
    {
        var mac = MacAddress.Parse(text);
        Assert.Equal(multicast, mac.IsMulticast);
        Assert.Equal(broadcast, mac.IsBroadcast);
    }

    [Theory]
    [InlineData("")]
    [InlineData("52:54:00:12:34")]
    [InlineData("52:54:00:12:34:5g")]
    [InlineData("52:54-00:12:34:56")]
    [InlineData("52.54.00.12.34.56")]
    [InlineData("52:54:00:12:34:567")]
    public void Rejects_malformed_text(string text) => Assert.False(MacAddress.TryParse(text, out _));

    [Fact]
    public void Reads_from_a_frame_without_allocating_and_refuses_short_spans()
    {
        byte[] frame = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xAA];
        Assert.True(MacAddress.TryRead(frame, out var mac));
        Assert.Equal("52:54:00:12:34:56", mac.ToString());
        Assert.False(MacAddress.TryRead(frame.AsSpan(0, 5), out _));

        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 1000; i++) MacAddress.TryRead(frame, out _);
        });
    }

    [Fact]
    public void Intel_low_high_layout_puts_byte_zero_in_ral_bits_7_to_0()
    {
        var mac = MacAddress.Parse("52:54:00:12:34:56");
        var (low, high) = mac.ToLowHigh();
        Assert.Equal(0x1200_5452u, low);
        Assert.Equal(0x5634u, high);
        Assert.Equal(mac, MacAddress.FromLowHigh(low, high | 0x8000_0000));
    }

    [Fact]
    public void Round_trips_through_text_and_bytes() =>
        Gen.ULong[0, 0xFFFF_FFFF_FFFF].Sample(v =>
        {
            var mac = MacAddress.FromUInt64(v);
            Assert.Equal(mac, MacAddress.Parse(mac.ToString()));
            Span<byte> b = stackalloc byte[6];
            mac.CopyTo(b);
            Assert.Equal(mac, new MacAddress(b));
        });
}
