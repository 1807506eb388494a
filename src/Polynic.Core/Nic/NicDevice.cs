using Microsoft.Extensions.Logging;
using Polynic.Core.Nic.Offload;
using Polynic.Core.Pci;

namespace Polynic.Core.Nic;

/// <summary>
/// Base class of every NIC personality: joins the PCI function (register accesses from the
/// VMM) and the port (frames and link changes from the wire) under one lock, keeps the
/// counters, and turns an exception on any path into a failed function instead of a crashed
/// server. A personality implements only its registers, its descriptor formats and its
/// receive/transmit rules.
/// </summary>
/// <remarks>
/// Every abstract member runs with <see cref="Sync"/> held, so a personality's state needs no
/// further locking unless it starts threads of its own.
/// </remarks>
public abstract partial class NicDevice : IPciDevice, IPortReceiver
{
    private IPciDeviceContext? _context;
    private volatile bool _failed;
    private volatile bool _cableUnplugged;
    private bool _portCarrier;
    private byte[]? _offloadScratch;

    /// <summary>
    /// Calls of <see cref="Transmit(ReadOnlySpan{byte})"/> under way on this thread. Such a thread
    /// holds the sending NIC's lock; a port that delivers on the sender's thread (a loopback pair's
    /// inline mode) brings it into the receiving NIC, which must not wait for room then.
    /// </summary>
    [ThreadStatic] private static int t_transmitting;

    /// <summary>Creates the NIC with its station address.</summary>
    protected NicDevice(NicSettings settings) => Settings = settings;

    /// <inheritdoc/>
    public abstract PciFunctionDefinition Definition { get; }

    /// <summary>The configuration the NIC was created with.</summary>
    public NicSettings Settings { get; }

    /// <summary>Frame, byte and fault counters.</summary>
    public NicCounters Counters { get; } = new();

    /// <summary>The port frames go to, once attached.</summary>
    public IPort? Port { get; private set; }

    /// <summary>
    /// Whether the link is up as the guest sees it: the attached port reports carrier and the
    /// cable is plugged in (<see cref="CableConnected"/>).
    /// </summary>
    public bool PortLinkUp { get; private set; }

    /// <summary>Whether the attached port reports carrier (a tap that exists and is up, a peer that is there).</summary>
    public bool PortCarrier => _portCarrier;

    /// <summary>
    /// Whether the NIC's cable is plugged in: true unless management pulled it
    /// (<see cref="SetCableConnected"/>). With the cable out the guest sees the link down, frames it
    /// transmits are dropped (counted in <see cref="NicCounters.TxDropped"/>) and nothing from the
    /// port reaches it, as on hardware whose cable was pulled.
    /// </summary>
    public bool CableConnected => !_cableUnplugged;

    /// <summary>
    /// Plugs the cable in or pulls it out (management's link toggle): the link the guest sees
    /// changes, with the personality's link-change interrupt, when the port has carrier.
    /// </summary>
    public void SetCableConnected(bool connected)
    {
        if (_failed) return;
        try
        {
            lock (Sync)
            {
                _cableUnplugged = !connected;
                ApplyLink();
            }
        }
        catch (Exception e)
        {
            Fail("link change", e);
        }
    }

    /// <summary>Held during every register access, received frame, link change and reset.</summary>
    protected object Sync { get; } = new();

    /// <summary>DMA, interrupts and log of the PCI function.</summary>
    protected IPciDeviceContext Context => _context ?? throw new InvalidOperationException("The NIC is not attached to a PCI function yet.");

    /// <summary>
    /// Connects the NIC to its port and starts receiving. A NIC without a port behaves like
    /// hardware with no cable: link down, transmitted frames counted as dropped.
    /// </summary>
    public void AttachPort(IPort port)
    {
        lock (Sync)
        {
            if (Port is not null) throw new InvalidOperationException("A port is already attached.");
            Port = port;
        }
        port.Start(this);
        ((IPortReceiver)this).LinkChanged(port.LinkUp);
    }

    /// <inheritdoc/>
    public void Attach(IPciDeviceContext context)
    {
        _context = context;
        lock (Sync)
        {
            OnAttached();
            // A port attached before the PCI function existed: its link state is applied now.
            if (Port is not null) OnLinkChanged(PortLinkUp);
        }
    }

    /// <inheritdoc/>
    public void ReadBar(int bar, ulong offset, Span<byte> data)
    {
        lock (Sync) ReadRegisters(bar, offset, data);
    }

    /// <inheritdoc/>
    public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (TryWritePosted(bar, offset, data)) return;
        lock (Sync) WriteRegisters(bar, offset, data);
    }

    /// <inheritdoc/>
    public void Reset()
    {
        lock (Sync) ResetDevice();
    }

    /// <summary>
    /// Longest a port's thread is held back waiting for the guest to hand receive buffers back
    /// (see <see cref="CanReceive"/>); after that the frame goes to <see cref="ReceiveFrame(ReadOnlySpan{byte})"/>
    /// anyway and is counted as missed, as the hardware would. A large frame the core segments
    /// (see <see cref="AcceptsReceiveOffload"/>) has this long for all of its segments; those that
    /// find no room after it are dropped and counted in <see cref="NicCounters.RxNoBuffer"/>.
    /// A thread that is sending from another NIC (and holds that NIC's lock) does not wait at all.
    /// </summary>
    public TimeSpan ReceiveBackpressureLimit { get; set; } = TimeSpan.FromMilliseconds(100);

    void IPortReceiver.Receive(ReadOnlySpan<byte> frame)
    {
        // A pulled cable carries nothing to the NIC.
        if (_failed || _cableUnplugged) return;
        try
        {
            lock (Sync)
            {
                // The clock is read only when there is no room: most frames find room at once.
                WaitForRoom(frame.Length);
                ReceiveFrame(frame);
            }
        }
        catch (Exception e)
        {
            Fail("receive", e);
        }
    }

    /// <summary>
    /// Every NIC asks its port for GSO frames and partial checksums, whatever its hardware takes:
    /// what the personality cannot take (<see cref="ReceiveOffloads"/>, <see cref="AcceptsReceiveOffload"/>)
    /// the core completes below, so the guest sees the same complete frames either way. The port
    /// then reads its peer in 64 KiB pieces instead of 1.5 KiB ones: a tap's kernel queue (500
    /// frames) holds 40 times the bytes, so a guest that falls a few milliseconds behind no longer
    /// makes the kernel drop frames (every e1000 host-to-guest TCP retransmission measured was a
    /// tap drop, docs/benchmarks.md), and the port's thread makes one read per 64 KiB.
    /// </summary>
    PortCapabilities IPortReceiver.ReceiveCapabilities => ReceiveOffloads | PortCapabilities.Checksum | PortCapabilities.Segmentation;

    void IPortReceiver.Receive(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (_failed || _cableUnplugged) return;
        try
        {
            lock (Sync)
            {
                if (!offload.NeedsWork || AcceptsReceiveOffload(offload))
                {
                    WaitForRoom(frame.Length);
                    ReceiveFrame(frame, offload);
                    return;
                }
                // The personality can take such frames in general (the port was told so) but not
                // this one now (the guest turned the offload off): the core finishes the work. One
                // deadline for the whole frame: waiting per segment, a 64 KiB frame cut into 512
                // segments would hold the port's thread 512 times the limit.
                var sink = new CompletedFrameSink(this, Deadline());
                var status = ReceiveOffloadCompletion.Complete(frame, offload,
                    _offloadScratch ??= new byte[ReceiveOffloadCompletion.MaxFrameLength], ref sink, out int frames, out int count);
                if (status == OffloadStatus.Stopped)
                {
                    // The segment that found no room and every one after it.
                    frames--;
                    Interlocked.Add(ref Counters.RxNoBuffer, count - frames);
                }
                else if (status != OffloadStatus.Ok) Interlocked.Increment(ref Counters.RxOffloadErrors);
                if (offload.GsoType != GsoType.None) Interlocked.Add(ref Counters.RxSegments, frames);
            }
        }
        catch (Exception e)
        {
            Fail("receive", e);
        }
    }

    /// <summary>
    /// Backpressure, as QEMU's NICs do with can_receive: while the guest has no room, the port's
    /// thread waits (releasing the lock, so the guest's register writes go on) and frames queue
    /// where they came from (the tap's kernel queue, a switch port's ring) instead of being lost
    /// here. Bounded by <paramref name="deadline"/> (<see cref="Environment.TickCount64"/>; when
    /// none is given, the limit from now, read only when there is no room: most frames find room at
    /// once), so a guest that never refills cannot stall the port for more than the limit per frame. Not at all on a
    /// thread that is sending from another NIC: Monitor.Wait releases only this NIC's lock, and the
    /// sender's guest would wait for its own. Called with <see cref="Sync"/> held; whether there is room.
    /// </summary>
    private bool WaitForRoom(int length, long? deadline = null)
    {
        if (CanReceive(length)) return true;
        if (t_transmitting != 0) return false;
        long end = deadline ?? Deadline(), remaining;
        // Bounded by the deadline; a pulse without room (another queue refilled) waits again.
        while (!_failed && (remaining = end - Environment.TickCount64) > 0)
        {
            Monitor.Wait(Sync, (int)remaining);
            if (CanReceive(length)) return true;
        }
        return false;
    }

    private long Deadline() => Environment.TickCount64 + (long)ReceiveBackpressureLimit.TotalMilliseconds;

    /// <summary>
    /// Each frame the core completed goes the complete-frame way, backpressure included, against
    /// one deadline for the whole frame: the first segment that finds no room by then stops it.
    /// </summary>
    private readonly ref struct CompletedFrameSink(NicDevice nic, long deadline) : ISegmentSink
    {
        public bool OnSegment(ReadOnlySpan<byte> segment)
        {
            if (!nic.WaitForRoom(segment.Length, deadline)) return false;
            nic.ReceiveFrame(segment);
            return true;
        }
    }

    /// <summary>
    /// Takes the NIC out of service after it failed on a thread of its own (a port's receive
    /// thread, a queue worker): later frames are ignored and the PCI function is marked failed.
    /// </summary>
    protected void Fail(string during, Exception exception)
    {
        _failed = true;
        lock (Sync) Monitor.PulseAll(Sync);
        Context.ReportFailure(during, exception);
    }

    /// <summary>Whether the NIC failed (see <see cref="Fail"/>); a worker of its own should stop.</summary>
    protected bool HasFailed => _failed;

    void IPortReceiver.LinkChanged(bool up)
    {
        if (_failed) return;
        try
        {
            lock (Sync)
            {
                _portCarrier = up;
                ApplyLink();
            }
        }
        catch (Exception e)
        {
            Fail("link change", e);
        }
    }

    /// <summary>The link the guest sees follows the port's carrier and the cable. Called with <see cref="Sync"/> held.</summary>
    private void ApplyLink()
    {
        bool up = _portCarrier && !_cableUnplugged;
        if (PortLinkUp == up) return;
        PortLinkUp = up;
        if (_context is null) return;
        Context.Log.LogInformation("Port {Port} link {State}{Why}", Port?.Name, up ? "up" : "down",
            _cableUnplugged ? " (cable pulled by management)" : "");
        OnLinkChanged(up);
    }

    /// <summary>Called once the PCI function exists; <see cref="Context"/> is available from here on.</summary>
    protected virtual void OnAttached() { }

    /// <summary>A read of the NIC's registers (see <see cref="IPciDevice.ReadBar"/>).</summary>
    protected abstract void ReadRegisters(int bar, ulong offset, Span<byte> data);

    /// <summary>
    /// A write the NIC handles without taking <see cref="Sync"/>, e.g. a doorbell that only wakes a
    /// worker thread of the NIC's own; true if handled. The default handles none. Runs on the
    /// transport's thread, concurrently with everything else: it may only touch thread-safe state.
    /// </summary>
    protected virtual bool TryWritePosted(int bar, ulong offset, ReadOnlySpan<byte> data) => false;

    /// <summary>A write to the NIC's registers (see <see cref="IPciDevice.WriteBar"/>).</summary>
    protected abstract void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data);

    /// <summary>Power-on reset of all device registers (see <see cref="IPciDevice.Reset"/>).</summary>
    protected abstract void ResetDevice();

    /// <summary>
    /// Whether a frame of <paramref name="frameLength"/> bytes can be taken now without being
    /// lost for want of guest buffers. Personalities with receive rings override it and call
    /// <see cref="ReceiveRoomAvailable"/> when the guest posts buffers. A NIC that would drop
    /// the frame for another reason (receiver off, filtered) returns true: waiting would not help.
    /// </summary>
    protected virtual bool CanReceive(int frameLength) => true;

    /// <summary>The guest posted receive buffers: wakes a port thread held back by <see cref="CanReceive"/>. Call with <see cref="Sync"/> held.</summary>
    protected void ReceiveRoomAvailable() => Monitor.PulseAll(Sync);

    /// <summary>A frame arrived from the port; deliver it to the guest if the NIC accepts it.</summary>
    protected abstract void ReceiveFrame(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Offloads the NIC can ever take on received frames whole. None by default: the core hands
    /// this NIC complete frames only (it segments GSO frames and finishes partial checksums the
    /// port delivers), as every NIC without a GSO-capable descriptor format (e1000, RTL8139,
    /// NE2000) needs.
    /// </summary>
    protected virtual PortCapabilities ReceiveOffloads => PortCapabilities.None;

    /// <summary>
    /// Whether the guest takes a frame with <paramref name="offload"/> now (e.g. what the driver
    /// negotiated). When false the core completes the frame in software (segments it, finishes its
    /// checksum) and calls <see cref="ReceiveFrame(ReadOnlySpan{byte})"/> for each result.
    /// </summary>
    protected virtual bool AcceptsReceiveOffload(in FrameOffload offload) => false;

    /// <summary>
    /// A frame arrived with an offload <see cref="AcceptsReceiveOffload"/> agreed to (or with only
    /// <see cref="FrameOffload.DataValid"/>); by default it goes to <see cref="ReceiveFrame(ReadOnlySpan{byte})"/>.
    /// </summary>
    protected virtual void ReceiveFrame(ReadOnlySpan<byte> frame, in FrameOffload offload) => ReceiveFrame(frame);

    /// <summary>The port's carrier changed; reflect it in the NIC's link status (and raise its interrupt).</summary>
    protected virtual void OnLinkChanged(bool up) { }
}
