using System.Buffers.Binary;
using Polynic.Core.Nic.Rss;

namespace Polynic.Core.Tests.Nic;

/// <summary>The Toeplitz hash against the verification suite of Microsoft's RSS specification ("Verifying the RSS Hash Calculation").</summary>
public class ToeplitzHashTests
{
    private static readonly byte[] Key = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    [Theory]
    [InlineData("66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2u, 0x51ccc178u)]
    [InlineData("199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262au, 0xc626b0eau)]
    [InlineData("24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5deu, 0x5c2b394au)]
    public void IPv4_cases_match_the_specification(string source, int sourcePort, string destination, int destinationPort, uint ipHash, uint tcpHash)
    {
        var input = new byte[12];
        System.Net.IPAddress.Parse(source).GetAddressBytes().CopyTo(input, 0);
        System.Net.IPAddress.Parse(destination).GetAddressBytes().CopyTo(input, 4);
        BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(8), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(10), (ushort)destinationPort);
        Assert.Equal(ipHash, ToeplitzHash.Compute(Key, input.AsSpan(0, 8)));
        Assert.Equal(tcpHash, ToeplitzHash.Compute(Key, input));
    }

    [Fact]
    public void A_short_key_counts_missing_bits_as_zero()
    {
        Assert.Equal(0u, ToeplitzHash.Compute([], [0xFF, 0xFF]));
        Assert.Equal(0x8000_0000u, ToeplitzHash.Compute([0x80, 0, 0, 0], [0x80]));
    }
}
