using Polynic.Core.Memory;

namespace Polynic.Core.Pci;

/// <summary>
/// The device's view of guest memory: the VMM's memory, but only while the guest allows
/// bus mastering (PCI 3.0, 6.2.2: with Bus Master Enable clear the function must not issue
/// memory requests) and a VMM is connected. Refusals are counted, never thrown.
/// </summary>
internal sealed class BusMasterMemory : IGuestMemory
{
    private volatile IGuestMemory? _memory;
    private volatile bool _busMaster;
    private long _refused;

    public long RefusedCount => Interlocked.Read(ref _refused);

    public void Connect(IGuestMemory? memory) => _memory = memory;

    public void SetBusMaster(bool enabled) => _busMaster = enabled;

    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        var m = _memory;
        if (m is null || !_busMaster) { Interlocked.Increment(ref _refused); destination.Clear(); return false; }
        return m.TryRead(address, destination);
    }

    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source)
    {
        var m = _memory;
        if (m is null || !_busMaster) { Interlocked.Increment(ref _refused); return false; }
        return m.TryWrite(address, source);
    }
}
