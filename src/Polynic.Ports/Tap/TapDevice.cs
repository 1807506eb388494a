using System.Text;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Native;

namespace Polynic.Ports.Tap;

/// <summary>
/// Opens /dev/net/tun and binds it to a TAP interface with the ioctls of linux/if_tun.h. Every
/// failure becomes a <see cref="PortOpenException"/> that names the step and the errno text.
/// </summary>
internal static unsafe class TapDevice
{
    private const string CloneDevice = "/dev/net/tun";

    /// <summary>What <see cref="Open"/> produced.</summary>
    internal readonly record struct Opened(FileDescriptor Descriptor, string InterfaceName, bool CreatedInterface);

    /// <summary>Opens the tap for <paramref name="options"/>; the descriptor is non-blocking.</summary>
    public static Opened Open(TapPortOptions options)
    {
        ValidateName(options.InterfaceName);
        bool existed = !options.InterfaceName.Contains('%') && LibC.if_nametoindex(options.InterfaceName) != 0;

        int fd = LibC.open(CloneDevice, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = LibC.LastErrno;
            throw new PortOpenException($"cannot open {CloneDevice}: {Errno.Describe(errno)}.{Hint(errno)}{MissingDriverHint(errno)}", errno);
        }

        var descriptor = new FileDescriptor(fd);
        try
        {
            string name = Attach(fd, options);
            if (options.VnetHeader) ConfigureVnetHeader(fd, name);
            if (options.BringUp) BringUp(name);
            return new Opened(descriptor, name, !existed);
        }
        catch
        {
            // Closing a non-persistent tap's last descriptor also removes the interface it created.
            descriptor.Dispose();
            throw;
        }
    }

    internal static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes is 0 or >= TunIoctl.IFNAMSIZ || name.Contains('/') || name.Any(char.IsWhiteSpace) || name is "." or "..")
            throw new ArgumentException(
                $"'{name}' is not a valid interface name: 1 to {TunIoctl.IFNAMSIZ - 1} bytes, no '/' or whitespace.",
                nameof(name));
    }

    private static string Attach(int fd, TapPortOptions options)
    {
        byte* ifreq = stackalloc byte[TunIoctl.IfReqSize];
        new Span<byte>(ifreq, TunIoctl.IfReqSize).Clear();
        Encoding.UTF8.GetBytes(options.InterfaceName, new Span<byte>(ifreq, TunIoctl.IFNAMSIZ - 1));
        short flags = TunIoctl.IFF_TAP | TunIoctl.IFF_NO_PI;
        if (options.VnetHeader) flags |= TunIoctl.IFF_VNET_HDR;
        *(short*)(ifreq + TunIoctl.IfReqFlagsOffset) = flags;

        if (LibC.ioctl(fd, TunIoctl.TUNSETIFF, ifreq) < 0)
        {
            int errno = LibC.LastErrno;
            string why = errno switch
            {
                Errno.EPERM => Hint(errno),
                Errno.EBUSY => " Another process has it open (a tap without IFF_MULTI_QUEUE takes one descriptor).",
                Errno.EINVAL => " An interface of that name exists and is not a tap, or its queue mode differs.",
                _ => "",
            };
            throw new PortOpenException(
                $"cannot create or attach tap '{options.InterfaceName}' (TUNSETIFF): {Errno.Describe(errno)}.{why}", errno);
        }

        // The kernel writes back the chosen name (it matters for patterns like "pn%d").
        var written = new ReadOnlySpan<byte>(ifreq, TunIoctl.IFNAMSIZ);
        int end = written.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? written : written[..end]);
    }

    private static void ConfigureVnetHeader(int fd, string name)
    {
        int size = VirtioNetHeader.Length;
        Check(LibC.ioctl(fd, TunIoctl.TUNSETVNETHDRSZ, &size), name, "TUNSETVNETHDRSZ 12");

        // The v1 header is little-endian (virtio 1.x). On a little-endian host that is also tun's
        // default; on a big-endian host the kernel must be told.
        int littleEndian = 1;
        if (LibC.ioctl(fd, TunIoctl.TUNSETVNETLE, &littleEndian) < 0 && !BitConverter.IsLittleEndian)
            Check(-1, name, "TUNSETVNETLE");

        // TUNSETOFFLOAD says what the kernel may leave undone in frames it hands *to us*. None until
        // the port knows its receiver (SetReceiveOffloads, on Start): the kernel completes checksums
        // and segments before we read (skb_checksum_help / software GSO in validate_xmit_skb).
        // Frames *we* write may carry NEEDS_CSUM and GSO whatever this says: tun parses the header
        // of every write (virtio_net_hdr_to_skb).
        Check(LibC.ioctl(fd, TunIoctl.TUNSETOFFLOAD, (nuint)0), name, "TUNSETOFFLOAD 0");
    }

    /// <summary>
    /// Lets the kernel hand us frames with a partial checksum (<see cref="PortCapabilities.Checksum"/>)
    /// and TCPv4/TCPv6 GSO frames (<see cref="PortCapabilities.Segmentation"/>, which tun accepts only
    /// together with TUN_F_CSUM: tun_set_offload). Returns what was set; a kernel that refuses leaves None.
    /// </summary>
    public static PortCapabilities SetReceiveOffloads(int fd, PortCapabilities wanted, out int errno)
    {
        errno = 0;
        nuint flags = 0;
        var set = PortCapabilities.None;
        if ((wanted & PortCapabilities.Checksum) != 0)
        {
            flags |= TunIoctl.TUN_F_CSUM;
            set |= PortCapabilities.Checksum;
            if ((wanted & PortCapabilities.Segmentation) != 0)
            {
                flags |= TunIoctl.TUN_F_TSO4 | TunIoctl.TUN_F_TSO6;
                set |= PortCapabilities.Segmentation;
            }
        }
        if (LibC.ioctl(fd, TunIoctl.TUNSETOFFLOAD, flags) >= 0) return set;
        errno = LibC.LastErrno;
        return PortCapabilities.None;
    }

    private static void BringUp(string name)
    {
        // Interface flags are set through any socket of the namespace (netdevice(7)).
        int socket = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (socket < 0) Check(-1, name, "socket for SIOCSIFFLAGS");
        using var control = new FileDescriptor(socket);

        byte* ifreq = stackalloc byte[TunIoctl.IfReqSize];
        new Span<byte>(ifreq, TunIoctl.IfReqSize).Clear();
        Encoding.UTF8.GetBytes(name, new Span<byte>(ifreq, TunIoctl.IFNAMSIZ - 1));
        Check(LibC.ioctl(socket, TunIoctl.SIOCGIFFLAGS, ifreq), name, "SIOCGIFFLAGS");
        *(short*)(ifreq + TunIoctl.IfReqFlagsOffset) |= TunIoctl.IFF_UP;
        Check(LibC.ioctl(socket, TunIoctl.SIOCSIFFLAGS, ifreq), name, "SIOCSIFFLAGS up");
    }

    private static void Check(int result, string name, string step)
    {
        if (result >= 0) return;
        int errno = LibC.LastErrno;
        throw new PortOpenException($"cannot configure tap '{name}' ({step}): {Errno.Describe(errno)}.{Hint(errno)}", errno);
    }

    private static string Hint(int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES when LibC.geteuid() != 0 =>
            " Creating or attaching a tap interface needs root or CAP_NET_ADMIN.",
        _ => "",
    };

    private static string MissingDriverHint(int errno) => errno is Errno.ENOENT or Errno.ENODEV or Errno.ENXIO
        ? " The tun driver is missing (modprobe tun, or give the container /dev/net/tun)."
        : "";
}
