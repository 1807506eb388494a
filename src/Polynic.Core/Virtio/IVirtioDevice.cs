namespace Polynic.Core.Virtio;

/// <summary>
/// The device-type part of a virtio device (net, block, rng...): what <see cref="VirtioPciTransport"/>
/// asks of it. Everything else — common configuration, feature negotiation, status, queue setup,
/// notifications, ISR and MSI-X vectors — is the transport's.
/// </summary>
/// <remarks>Called with the owner's lock held, like the register accesses that cause the calls.</remarks>
public interface IVirtioDevice
{
    /// <summary>Feature bits the device offers, device-independent ones (<see cref="VirtioFeatures"/>) included.</summary>
    ulong DeviceFeatures { get; }

    /// <summary>Bytes of device-specific configuration (the device configuration structure).</summary>
    int ConfigSize { get; }

    /// <summary>Reads device configuration at <paramref name="offset"/> (inside <see cref="ConfigSize"/>).</summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>A driver write to device configuration (most devices ignore them).</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// Whether the feature set the driver accepted is consistent for this device type (virtio 1.2,
    /// 3.1.1 step 5: the device may refuse FEATURES_OK). The transport has already checked it is a
    /// subset of the offer and includes VERSION_1.
    /// </summary>
    bool AcceptFeatures(ulong features);

    /// <summary>The driver set DRIVER_OK: negotiated features and live queues may be used from now on.</summary>
    void DriverReady();

    /// <summary>The driver notified queue <paramref name="queue"/> (it made buffers available).</summary>
    void QueueNotified(int queue);

    /// <summary>The device or one queue was reset; drop any state that refers to guest buffers.</summary>
    void DeviceReset();
}
