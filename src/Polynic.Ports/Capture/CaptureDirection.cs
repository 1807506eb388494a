namespace Polynic.Ports.Capture;

/// <summary>
/// Which way a captured frame went, from the NIC's point of view. The values are the direction
/// bits of the pcapng epb_flags option (draft-ietf-opsawg-pcapng, "Enhanced Packet Block Flags Word").
/// </summary>
public enum CaptureDirection
{
    /// <summary>Not recorded.</summary>
    Unknown = 0,

    /// <summary>Received by the NIC (port to NIC).</summary>
    Inbound = 1,

    /// <summary>Sent by the NIC (NIC to port).</summary>
    Outbound = 2,
}
