using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;

namespace Polynic.Ports.Sockets;

/// <summary>
/// Hands frames and link changes to a port's receiver so that a NIC's bug never kills the port's
/// thread: a receiver that throws loses that frame (counted), and only the first fault is logged.
/// Used from one thread only. <c>logFault</c> logs that first fault (by default
/// <see cref="SocketLog.ReceiverFault"/>).
/// </summary>
internal sealed class ReceiverGuard(string portName, IPortReceiver receiver, PortCounters counters, ILogger logger,
    Action<ILogger, string, Exception>? logFault = null)
{
    private readonly Action<ILogger, string, Exception> _logFault = logFault ?? SocketLog.ReceiverFault;

    private bool _faultLogged;

    public void Frame(ReadOnlySpan<byte> frame)
    {
        counters.CountReceived(frame.Length);
        try
        {
            receiver.Receive(frame);
        }
        catch (Exception exception)
        {
            counters.CountReceiveError();
            Fault(exception);
        }
    }

    /// <summary>A frame with offload work left, for a receiver that asked for it (see <see cref="IPortReceiver.ReceiveCapabilities"/>).</summary>
    public void Frame(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        counters.CountReceived(frame.Length);
        try
        {
            receiver.Receive(frame, offload);
        }
        catch (Exception exception)
        {
            counters.CountReceiveError();
            Fault(exception);
        }
    }

    public void Link(bool up)
    {
        try
        {
            receiver.LinkChanged(up);
        }
        catch (Exception exception)
        {
            Fault(exception);
        }
    }

    private void Fault(Exception exception)
    {
        if (_faultLogged) return;
        _faultLogged = true;
        _logFault(logger, portName, exception);
    }
}
