namespace Polynic.GuestBenchmarks;

/// <summary>
/// A card compared with QEMU's own model of it: the <c>polynic serve --device</c> personality (and
/// options) a user would pass, QEMU's device of the same kind, and the guest drivers that bind each.
/// </summary>
/// <param name="Name">The benchmark's name for it.</param>
/// <param name="Personality">Polynic personality, as in <c>--device PERSONALITY:SOCKET</c>.</param>
/// <param name="Options">Further <c>,key=value</c> options of the device spec.</param>
/// <param name="QemuModel">QEMU's <c>-device</c> model of the same card.</param>
/// <param name="Driver">The guest driver expected on Polynic's card.</param>
/// <param name="QemuDriver">The guest driver expected on QEMU's card.</param>
internal sealed record Card(string Name, string Personality, string Options, string QemuModel, string Driver, string QemuDriver)
{
    public static readonly IReadOnlyList<Card> All =
    [
        new("e1000", "e1000", "", "e1000", "e1000", "e1000"),
        new("e1000e", "e1000e", "", "e1000e", "e1000e", "e1000e"),
        new("virtio-net", "virtio-net", "", "virtio-net-pci", "virtio_net", "virtio_net"),
        new("rtl8139cp", "rtl8139cp", "", "rtl8139", "8139cp", "8139cp"),
        // QEMU's rtl8139 reports revision 0x20 (a C+ chip), which 8139too refuses: C mode is
        // compared with QEMU's card in C+ mode, and judged by its own numbers.
        new("rtl8139", "rtl8139", "", "rtl8139", "8139too", "8139cp"),
        new("ne2000", "ne2000", "", "ne2k_pci", "ne2k-pci", "ne2k-pci"),
    ];

    public static Card Find(string name) => All.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"unknown card '{name}'; known: {string.Join(", ", All.Select(c => c.Name))}, switch");
}
