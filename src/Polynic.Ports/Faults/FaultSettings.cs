namespace Polynic.Ports.Faults;

/// <summary>
/// What a <see cref="FaultInjectionPort"/> does to traffic, replaced as a whole at run time
/// (<see cref="FaultInjectionPort.Settings"/>): one set of faults per direction and a switch
/// that pulls the cable.
/// </summary>
public sealed record FaultSettings
{
    /// <summary>No faults: frames pass unchanged and at once, link follows the inner port.</summary>
    public static FaultSettings None { get; } = new();

    /// <summary>Faults applied to frames the NIC sends.</summary>
    public DirectionFaults Outbound { get; init; } = DirectionFaults.None;

    /// <summary>Faults applied to frames the port delivers to the NIC.</summary>
    public DirectionFaults Inbound { get; init; } = DirectionFaults.None;

    /// <summary>
    /// Forces the link down: the NIC hears LinkChanged(false), sends are refused (false) and
    /// counted, received and still-delayed frames are dropped. Clearing it reports the link up
    /// again if the inner port's link is up.
    /// </summary>
    public bool LinkDown { get; init; }

    /// <summary>Throws if a value is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A probability outside 0..1 or a negative or over-long delay.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Outbound);
        ArgumentNullException.ThrowIfNull(Inbound);
        Outbound.Validate(nameof(Outbound));
        Inbound.Validate(nameof(Inbound));
    }
}

/// <summary>Faults of one direction. Each frame is judged independently, in this order: drop, corrupt, delay.</summary>
public sealed record DirectionFaults
{
    /// <summary>Longest delay plus jitter accepted.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(1);

    /// <summary>Nothing happens to the frames.</summary>
    public static DirectionFaults None { get; } = new();

    /// <summary>
    /// Chance (0..1) that a frame is lost. A lost outbound frame still makes Send return true:
    /// the NIC put it on the wire, the wire lost it.
    /// </summary>
    public double DropProbability { get; init; }

    /// <summary>
    /// Chance (0..1) that one byte after the Ethernet header (offset 14 or later) is changed, so
    /// the frame still reaches the same station but fails its checksums. Frames of 14 bytes or
    /// less are never corrupted. The sender's buffer is never touched: a copy is changed.
    /// </summary>
    public double CorruptProbability { get; init; }

    /// <summary>Time added before the frame goes on. Frames keep their order whatever the jitter.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>
    /// Each frame's delay is <see cref="Delay"/> plus a uniform amount in [-Jitter, +Jitter]
    /// (never below zero); a frame is never delivered before the one in front of it.
    /// </summary>
    public TimeSpan Jitter { get; init; }

    internal bool Delays => Delay > TimeSpan.Zero || Jitter > TimeSpan.Zero;

    internal void Validate(string direction)
    {
        if (!(DropProbability is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(direction, DropProbability, "DropProbability must be within 0..1.");
        if (!(CorruptProbability is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(direction, CorruptProbability, "CorruptProbability must be within 0..1.");
        if (Delay < TimeSpan.Zero || Jitter < TimeSpan.Zero || Delay + Jitter > MaxDelay)
            throw new ArgumentOutOfRangeException(direction, Delay, $"Delay and Jitter must be non-negative and together at most {MaxDelay}.");
    }
}
