using static Polynic.Core.Nic.Phy.MiiRegisters;

namespace Polynic.Core.Nic.Phy;

/// <summary>Computes what the guest reads from a vendor-specific PHY register.</summary>
/// <param name="phy">The PHY, for its link state and resolved speed.</param>
/// <param name="register">Register number.</param>
/// <param name="stored">The stored value.</param>
public delegate ushort PhyReadHook(MiiPhy phy, int register, ushort stored);

/// <summary>Reacts to a guest write of a vendor-specific PHY register, after the masked value was stored.</summary>
public delegate void PhyWriteHook(MiiPhy phy, int register, ushort oldValue, ushort newValue);

/// <summary>
/// A PHY's MII management registers (IEEE 802.3 clause 22): BMCR, BMSR, PHY ID, auto-negotiation
/// (registers 4-6), 1000BASE-T control/status (9, 10) and extended status (15), plus vendor-specific
/// registers the personality declares (e.g. Marvell 88E1011 PHY specific control 16 and status 17).
/// </summary>
/// <remarks>
/// <para>
/// The link is virtual: <see cref="SetLink"/> follows the port. Auto-negotiation completes at once
/// when the link is up (there is no partner to wait for); the partner's abilities come from
/// <see cref="MiiPhyOptions"/>. The resolved speed and duplex (<see cref="Speed"/>,
/// <see cref="FullDuplex"/>) follow 802.3 Annex 28B.3 priority over ANAR and the partner's abilities,
/// or the forced BMCR bits when auto-negotiation is off. Power-down reports the link down.
/// </para>
/// <para>
/// Register numbers are 5 bits; anything else reads 0 and is ignored on write, as are unimplemented
/// registers. Not thread-safe; the personality serialises MDIO accesses.
/// </para>
/// </remarks>
public sealed class MiiPhy
{
    /// <summary>Number of clause 22 registers.</summary>
    public const int RegisterCount = 32;

    private readonly MiiPhyOptions _options;
    private readonly Vendor?[] _vendor = new Vendor?[RegisterCount];
    private ushort _control;
    private ushort _advertisement;
    private ushort _gigabitControl;
    private bool _autonegComplete;
    private bool _linkLatchedLow;

    /// <summary>Creates a PHY in its reset state with the link down.</summary>
    public MiiPhy(MiiPhyOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        Reset();
    }

    /// <summary>What the PHY was built with: its identifier (registers 2 and 3), reset values and abilities.</summary>
    public MiiPhyOptions Options => _options;

    /// <summary>Whether the cable (the port) has link.</summary>
    public bool LinkUp { get; private set; }

    /// <summary>Link as the PHY reports it: <see cref="LinkUp"/> and not powered down.</summary>
    public bool EffectiveLinkUp => LinkUp && (_control & BmcrPowerDown) == 0;

    /// <summary>BMCR loopback bit: the MAC should loop transmitted frames back instead of sending them.</summary>
    public bool Loopback => (_control & BmcrLoopback) != 0;

    /// <summary>BMCR auto-negotiation enable bit.</summary>
    public bool AutonegotiationEnabled => (_control & BmcrAutonegEnable) != 0;

    /// <summary>Auto-negotiation has completed (link up and enabled).</summary>
    public bool AutonegotiationComplete => _autonegComplete;

    /// <summary>Resolved speed; <see cref="LinkSpeed.None"/> without link or without a common ability.</summary>
    public LinkSpeed Speed => Resolve().Speed;

    /// <summary>Resolved duplex; false without link.</summary>
    public bool FullDuplex => Resolve().FullDuplex;

    /// <summary>
    /// Declares vendor-specific register <paramref name="register"/> (7, 8, 11-14 or 16-31) with its
    /// reset value, the bits guest writes may change, and optional hooks. Setup time only.
    /// </summary>
    /// <exception cref="ArgumentException">A standard register the PHY implements itself, or out of range.</exception>
    public MiiPhy DeclareRegister(int register, ushort resetValue, ushort writeMask, PhyReadHook? onRead = null, PhyWriteHook? onWrite = null)
    {
        if ((uint)register >= RegisterCount || register is <= Aner or GigabitControl or GigabitStatus or ExtendedStatus)
            throw new ArgumentException($"PHY register {register} is not declarable (standard or out of range).", nameof(register));
        _vendor[register] = new Vendor(resetValue, writeMask, onRead, onWrite) { Value = resetValue };
        return this;
    }

    /// <summary>Stored value of a declared vendor register (bypassing hooks); 0 if not declared.</summary>
    public ushort GetVendor(int register) => (uint)register < RegisterCount && _vendor[register] is { } v ? v.Value : (ushort)0;

    /// <summary>Stores a declared vendor register's value (bypassing the write mask and hooks); false if not declared.</summary>
    public bool SetVendor(int register, ushort value)
    {
        if ((uint)register >= RegisterCount || _vendor[register] is not { } v) return false;
        v.Value = value;
        return true;
    }

    /// <summary>The cable state changed. Link loss latches BMSR link status low until it is read (22.2.4.2.13).</summary>
    public void SetLink(bool up)
    {
        if (!up && LinkUp) _linkLatchedLow = true;
        LinkUp = up;
        _autonegComplete = up && AutonegotiationEnabled;
    }

    /// <summary>Power-on / BMCR reset: every register to its reset value, self-clearing bits clear. The link (cable) is kept.</summary>
    public void Reset()
    {
        _control = (ushort)(_options.ControlReset & ~(BmcrReset | BmcrRestartAutoneg));
        _advertisement = _options.AdvertisementReset;
        _gigabitControl = _options.GigabitControlReset;
        _linkLatchedLow = false;
        foreach (var v in _vendor) if (v is not null) v.Value = v.Reset;
        _autonegComplete = LinkUp && AutonegotiationEnabled;
    }

    /// <summary>A management read of register <paramref name="register"/> (MDIC or MDIO). Never throws.</summary>
    public ushort Read(int register)
    {
        if ((uint)register >= RegisterCount) return 0;
        bool gig = _options.Gigabit;
        switch (register)
        {
            case Bmcr: return _control;
            case Bmsr:
                {
                    ushort s = (ushort)(_options.StatusAbilities & ~(BmsrLinkStatus | BmsrAutonegComplete));
                    if (EffectiveLinkUp && !_linkLatchedLow) s |= BmsrLinkStatus;
                    if (_autonegComplete) s |= BmsrAutonegComplete;
                    // 22.2.4.2.13: the latch holds until read; afterwards the bit follows the link.
                    _linkLatchedLow = false;
                    return s;
                }
            case PhyId1: return (ushort)(_options.PhyId >> 16);
            case PhyId2: return (ushort)_options.PhyId;
            case Anar: return _advertisement;
            case Anlpar: return Negotiated ? _options.PartnerAbility : (ushort)0;
            case Aner: return Negotiated ? (ushort)0x0001 : (ushort)0;   // link partner is auto-negotiation able
            case GigabitControl: return gig ? _gigabitControl : (ushort)0;
            case GigabitStatus:
                return gig && Negotiated ? (ushort)(ReceiversOk | (_options.PartnerGigabitAbility & (Partner1000Full | Partner1000Half))) : (ushort)0;
            case ExtendedStatus: return gig ? _options.ExtendedStatus : (ushort)0;
        }
        if (_vendor[register] is not { } v) return 0;
        return v.OnRead is { } hook ? hook(this, register, v.Value) : v.Value;
    }

    /// <summary>A management write of register <paramref name="register"/>. Read-only and unimplemented registers ignore it. Never throws.</summary>
    public void Write(int register, ushort value)
    {
        if ((uint)register >= RegisterCount) return;
        switch (register)
        {
            case Bmcr:
                if ((value & BmcrReset) != 0) { Reset(); return; }
                bool wasEnabled = AutonegotiationEnabled;
                _control = (ushort)(value & ~(BmcrReset | BmcrRestartAutoneg));
                if (!AutonegotiationEnabled) _autonegComplete = false;
                else if (!wasEnabled || (value & BmcrRestartAutoneg) != 0) _autonegComplete = LinkUp;
                return;
            case Anar: _advertisement = value; return;
            case GigabitControl: if (_options.Gigabit) _gigabitControl = value; return;
            case Bmsr or PhyId1 or PhyId2 or Anlpar or Aner or GigabitStatus or ExtendedStatus: return;
        }
        if (_vendor[register] is not { } v) return;
        ushort old = v.Value;
        v.Value = (ushort)((old & ~v.WriteMask) | (value & v.WriteMask));
        v.OnWrite?.Invoke(this, register, old, v.Value);
    }

    private bool Negotiated => _autonegComplete && EffectiveLinkUp;

    private (LinkSpeed Speed, bool FullDuplex) Resolve()
    {
        if (!EffectiveLinkUp) return (LinkSpeed.None, false);
        if (!AutonegotiationEnabled)
        {
            bool full = (_control & BmcrFullDuplex) != 0;
            return ((_control & (BmcrSpeedMsb | BmcrSpeedLsb)) switch
            {
                0 => LinkSpeed.Mbps10,
                BmcrSpeedLsb => LinkSpeed.Mbps100,
                BmcrSpeedMsb => LinkSpeed.Mbps1000,
                _ => LinkSpeed.None,    // 22.2.4.1.3: both bits set is reserved
            }, full);
        }
        if (!_autonegComplete) return (LinkSpeed.None, false);
        if (_options.Gigabit)
        {
            ushort partner = _options.PartnerGigabitAbility;
            if ((_gigabitControl & Advertise1000Full) != 0 && (partner & Partner1000Full) != 0) return (LinkSpeed.Mbps1000, true);
            if ((_gigabitControl & Advertise1000Half) != 0 && (partner & Partner1000Half) != 0) return (LinkSpeed.Mbps1000, false);
        }
        int common = _advertisement & _options.PartnerAbility;
        if ((common & An100Full) != 0) return (LinkSpeed.Mbps100, true);
        if ((common & An100Half) != 0) return (LinkSpeed.Mbps100, false);
        if ((common & An10Full) != 0) return (LinkSpeed.Mbps10, true);
        if ((common & An10Half) != 0) return (LinkSpeed.Mbps10, false);
        return (LinkSpeed.None, false);
    }

    private sealed class Vendor(ushort reset, ushort writeMask, PhyReadHook? onRead, PhyWriteHook? onWrite)
    {
        public ushort Reset { get; } = reset;
        public ushort WriteMask { get; } = writeMask;
        public PhyReadHook? OnRead { get; } = onRead;
        public PhyWriteHook? OnWrite { get; } = onWrite;
        public ushort Value { get; set; }
    }
}
