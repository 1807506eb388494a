namespace Polynic.Ports.Capture;

/// <summary>Units of the Enhanced Packet Block timestamps, written as each interface's if_tsresol option.</summary>
public enum PcapngTimestampResolution
{
    /// <summary>10^-6 s, the pcapng default.</summary>
    Microseconds = 6,

    /// <summary>10^-9 s. The clock itself ticks in 100 ns, so the last two digits are always 0.</summary>
    Nanoseconds = 9,
}
