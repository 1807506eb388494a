using Polynic.Core.Modules;
using Polynic.Core.Nic;

namespace Polynic.Core.Tests.Modules;

public sealed class PersonalitySettingsTests
{
    [Theory]
    [InlineData("16", 16L)]
    [InlineData("0x10", 16L)]
    [InlineData("0X7FFFFFFFFFFFFFFF", long.MaxValue)]
    [InlineData("-3", -3L)]
    public void Integers_are_decimal_or_0x_hexadecimal(string text, long expected)
    {
        Assert.True(PersonalitySettings.TryParseInteger(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("0xFFFFFFFFFFFFFFFF")] // would wrap to -1 as a signed hex parse
    [InlineData("0x")]
    [InlineData("ten")]
    [InlineData("1.5")]
    [InlineData(" 1")]
    [InlineData("")]
    public void Anything_else_is_not_an_integer(string text) =>
        Assert.False(PersonalitySettings.TryParseInteger(text, out _));

    [Fact]
    public void An_option_out_of_range_or_unknown_is_refused_naming_it()
    {
        var settings = new PersonalitySettings(NicSettings.ForIndex(0), [new("revision", "0x100")]);
        Assert.Contains("revision='0x100'", Assert.Throws<ArgumentException>(() => settings.GetInteger("revision", 0, 0, 255)).Message);
        Assert.Equal(7, settings.GetInteger("absent", 7, 0, 255));
        Assert.Contains("unknown option 'revision' (known: queuePairs)", Assert.Throws<ArgumentException>(() => settings.RejectUnknownOptions("queuePairs")).Message);
    }
}
