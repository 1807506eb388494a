namespace Polynic.Management.Hosting;

/// <summary>
/// What Polynic tells a user about hot-unplugging a card whose guest was offered MSI-X. QEMU 10.2
/// to at least 11.1.3 abort in <c>vfio_user_instance_finalize</c> when such a <c>vfio-user-pci</c>
/// device is unplugged (README, "Hot-unplug and MSI-X"): nothing on the server's side avoids it,
/// so the choice is the user's, and the control plane says so where the choice is made.
/// </summary>
public static class HotUnplug
{
    /// <summary>The warning given when a NIC that offers MSI-X is added or listed.</summary>
    public const string MsixWarning =
        "QEMU 10.2 to 11.1 abort when a vfio-user device with MSI-X is hot-unplugged (QMP device_del); " +
        "stop the VM before removing this card, or serve it with msix=off (MSI/INTx only) if the VM must survive an unplug";

    /// <summary>The warning given when such a NIC is removed while a VMM still has it.</summary>
    public const string RemovedWhileAttachedWarning =
        "the NIC offered MSI-X and a VMM was still connected: QEMU keeps the device without its server, " +
        "and a QMP device_del of it aborts QEMU 10.2 to 11.1; stop that VM rather than unplug the device";
}
