namespace Polynic.Ports.Tap;

/// <summary>
/// Request numbers and flags from linux/if_tun.h and linux/sockios.h / linux/if.h. The request
/// numbers are the _IOW/_IOR encodings for the generic ioctl layout (x86-64, arm64).
/// </summary>
internal static class TunIoctl
{
    /// <summary>_IOW('T', 202, int): attach the descriptor to a (new or existing) interface.</summary>
    public const uint TUNSETIFF = 0x400454CA;

    /// <summary>_IOW('T', 208, unsigned int): offloads the *kernel* may use on frames it hands us.</summary>
    public const uint TUNSETOFFLOAD = 0x400454D0;

    /// <summary>_IOW('T', 216, int): size of the virtio-net header in front of each frame.</summary>
    public const uint TUNSETVNETHDRSZ = 0x400454D8;

    /// <summary>_IOW('T', 220, int): the virtio-net header's fields are little-endian (virtio 1.x).</summary>
    public const uint TUNSETVNETLE = 0x400454DC;

    /// <summary>TUNSETOFFLOAD bits (linux/if_tun.h): the kernel may hand us frames with a partial checksum.</summary>
    public const uint TUN_F_CSUM = 0x01;

    /// <summary>TUNSETOFFLOAD: ... and TCPv4 GSO frames (only together with <see cref="TUN_F_CSUM"/>).</summary>
    public const uint TUN_F_TSO4 = 0x02;

    /// <summary>TUNSETOFFLOAD: ... and TCPv6 GSO frames (only together with <see cref="TUN_F_CSUM"/>).</summary>
    public const uint TUN_F_TSO6 = 0x04;

    /// <summary>linux/sockios.h: get / set interface flags through struct ifreq.</summary>
    public const uint SIOCGIFFLAGS = 0x8913;
    public const uint SIOCSIFFLAGS = 0x8914;

    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;

    /// <summary>linux/if.h: administratively up.</summary>
    public const short IFF_UP = 0x1;

    /// <summary>IFNAMSIZ: interface names are at most 15 bytes plus the terminating NUL.</summary>
    public const int IFNAMSIZ = 16;

    /// <summary>sizeof(struct ifreq) on LP64: the name plus a 24-byte union.</summary>
    public const int IfReqSize = 40;

    /// <summary>Offset of ifr_flags (a short) inside struct ifreq.</summary>
    public const int IfReqFlagsOffset = IFNAMSIZ;
}
