namespace Polynic.Personalities.VirtioNet;

/// <summary>virtio-net feature bits (virtio 1.2, 5.1.3).</summary>
public static class VirtioNetFeatures
{
    /// <summary>VIRTIO_NET_F_CSUM: the device completes partial checksums on transmit.</summary>
    public const ulong Csum = 1UL << 0;
    /// <summary>VIRTIO_NET_F_GUEST_CSUM: the driver accepts received frames with partial or validated checksums.</summary>
    public const ulong GuestCsum = 1UL << 1;
    /// <summary>VIRTIO_NET_F_CTRL_GUEST_OFFLOADS: the driver can switch receive offloads through the control queue.</summary>
    public const ulong CtrlGuestOffloads = 1UL << 2;
    /// <summary>VIRTIO_NET_F_MAC: the device configuration holds the station address.</summary>
    public const ulong Mac = 1UL << 5;
    /// <summary>VIRTIO_NET_F_GUEST_TSO4: the driver accepts TCPv4 GSO frames.</summary>
    public const ulong GuestTso4 = 1UL << 7;
    /// <summary>VIRTIO_NET_F_GUEST_TSO6: the driver accepts TCPv6 GSO frames.</summary>
    public const ulong GuestTso6 = 1UL << 8;
    /// <summary>VIRTIO_NET_F_HOST_TSO4: the device segments TCPv4.</summary>
    public const ulong HostTso4 = 1UL << 11;
    /// <summary>VIRTIO_NET_F_HOST_TSO6: the device segments TCPv6.</summary>
    public const ulong HostTso6 = 1UL << 12;
    /// <summary>VIRTIO_NET_F_MRG_RXBUF: a received frame may span several receive buffers.</summary>
    public const ulong MrgRxbuf = 1UL << 15;
    /// <summary>VIRTIO_NET_F_STATUS: the configuration's status field reports link.</summary>
    public const ulong Status = 1UL << 16;
    /// <summary>VIRTIO_NET_F_CTRL_VQ: a control queue exists.</summary>
    public const ulong CtrlVq = 1UL << 17;
    /// <summary>VIRTIO_NET_F_CTRL_RX: promiscuous and all-multicast through the control queue.</summary>
    public const ulong CtrlRx = 1UL << 18;
    /// <summary>VIRTIO_NET_F_CTRL_VLAN: VLAN filtering through the control queue.</summary>
    public const ulong CtrlVlan = 1UL << 19;
    /// <summary>VIRTIO_NET_F_MQ: several receive/transmit queue pairs.</summary>
    public const ulong Mq = 1UL << 22;
    /// <summary>VIRTIO_NET_F_CTRL_MAC_ADDR: the station address can be set through the control queue.</summary>
    public const ulong CtrlMacAddr = 1UL << 23;

    /// <summary>The receive offloads VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET can switch on and off (5.1.6.5.6.1), of those the device offers.</summary>
    public const ulong GuestOffloads = GuestCsum | GuestTso4 | GuestTso6;
}
