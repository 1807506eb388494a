using Polynic.Core.Pci;

namespace Polynic.Fuzzing.Devices;

/// <summary>A register worth hitting more often than a random offset: a doorbell, a ring base, a control register.</summary>
/// <param name="Bar">The BAR it is in.</param>
/// <param name="Offset">Its offset in the BAR.</param>
/// <param name="Width">Its width in bytes (1, 2, 4 or 8).</param>
internal readonly record struct RegisterHint(int Bar, uint Offset, int Width);

/// <summary>
/// What the device fuzzer knows about one personality beyond its PCI definition: the registers a
/// driver touches most, the writes that start DMA ("doorbells"), and a small sanity driver — the
/// personality's standard init sequence and a check that a known register answers and a known frame
/// moves both ways. A personality without a profile is fuzzed all the same, with the generic
/// checks only (config space answers, no invariant breaks).
/// </summary>
internal abstract class DeviceProfile
{
    /// <summary>Registers to favour; empty for none.</summary>
    public virtual IReadOnlyList<RegisterHint> Registers => [];

    /// <summary>Whether <see cref="Doorbell"/> does anything.</summary>
    public virtual bool HasDoorbells => false;

    /// <summary>
    /// Whether the device may be built on the fuzzer's manual clock when its type offers a public
    /// (NicSettings, TimeProvider) constructor, so its timers fire inside steps (true by default).
    /// </summary>
    public virtual bool UsesManualClock => true;

    /// <summary>Makes a freshly created device run entirely on the fuzzing thread, before it is plugged in.</summary>
    public virtual void Prepare(IPciDevice device) { }

    /// <summary>A write likely to start DMA (a tail pointer, a transmit command, a queue notification).</summary>
    public virtual void Doorbell(FuzzedDevice d, AdversarialValues values) { }

    /// <summary>
    /// The driver's standard init after a reset: rings in guest RAM (at <see cref="SanityLayout"/>),
    /// receive and transmit on. Runs also as the prologue of half the runs (and after some resets), so
    /// fuzzing starts from a working device as often as from a blank one; there
    /// <paramref name="variation"/> lets the profile vary the driver's choices (features, receive
    /// modes), which the sanity check (null) never does.
    /// </summary>
    public virtual void Initialize(FuzzedDevice d, FuzzRandom? variation = null) { }

    /// <summary>
    /// After <see cref="Initialize"/> on a freshly reset device: a personality-known register answers,
    /// a frame sent by the driver reaches the port, a frame injected from the port lands in guest
    /// memory. Null when all is well, else what is wrong.
    /// </summary>
    public virtual string? Check(FuzzedDevice d) => null;

    /// <summary>The profile of personality <paramref name="name"/>, or the generic one.</summary>
    public static DeviceProfile For(string name) => name.ToLowerInvariant() switch
    {
        "e1000" => new E1000Profile(),
        "e1000e" => new E1000Profile(i82574: true),
        "rtl8139" => new Rtl8139Profile(cPlus: false),
        "rtl8139cp" => new Rtl8139Profile(cPlus: true),
        "ne2000" => new Ne2000Profile(),
        "virtio-net" => new VirtioNetProfile(),
        "diagnostic" => new DiagnosticProfile(),
        _ => new GenericProfile(),
    };
}

/// <summary>A personality the fuzzer knows nothing particular about (a descriptor device, a third party's module).</summary>
internal sealed class GenericProfile : DeviceProfile;

/// <summary>Where the sanity drivers put rings and buffers in guest RAM; the fuzzer aims pointers there too.</summary>
internal static class SanityLayout
{
    public const ulong TxRing = 0x1000;
    public const ulong RxRing = 0x2000;
    public const ulong ControlRing = 0x3000;
    public const ulong TxBuffers = 0x1_0000;
    public const ulong RxBuffers = 0x2_0000;

    /// <summary>Descriptors per ring (a multiple of 8: e1000's TDLEN is a multiple of 128 bytes).</summary>
    public const int Entries = 16;

    /// <summary>Bytes per receive buffer.</summary>
    public const int BufferSize = 2048;

    /// <summary>The smallest RAM the layout fits in.</summary>
    public const int MinimumRam = 0x4_0000;

    /// <summary>Rings and buffers, and the virtio available and used rings 0x100 and 0x200 after each descriptor table.</summary>
    public static readonly ulong[] Areas =
        [TxRing, TxRing + 0x100, TxRing + 0x200, RxRing, RxRing + 0x100, RxRing + 0x200, ControlRing, ControlRing + 0x100, ControlRing + 0x200, TxBuffers, RxBuffers];
}
