namespace Polynic.Soak;

/// <summary>What the soak's loops did so far; read by the sampler from another thread.</summary>
internal sealed class SoakCounters
{
    public long TransfersOk;
    public long TransfersFailed;
    /// <summary>Transfers that needed a second or third fetch (the first failed, typically while the link was pulled) and then arrived intact.</summary>
    public long TransfersRetried;
    public long Mismatches;
    public long BytesOk;
    public long LinkFlaps;
    public long FaultEpisodes;
    public long ControlRefusals;
    public long NicsAdded;
    public long NicsRemoved;
    public long ChurnProbesFailed;
    public long TapsLeft;

    public static long Read(ref long field) => Interlocked.Read(ref field);
}
