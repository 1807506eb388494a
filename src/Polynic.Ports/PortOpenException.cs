namespace Polynic.Ports;

/// <summary>
/// A port could not be opened; the message says what was attempted and why it failed, in one or
/// two sentences fit for an operator (e.g. "cannot open /dev/net/tun: Permission denied (errno 13).
/// Creating a tap interface needs root or CAP_NET_ADMIN.").
/// </summary>
public sealed class PortOpenException : IOException
{
    /// <summary>Creates the exception with its operator-facing message.</summary>
    public PortOpenException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The Linux errno behind the failure, or 0 if the failure was not a system call.</summary>
    public int Errno { get; }
}
