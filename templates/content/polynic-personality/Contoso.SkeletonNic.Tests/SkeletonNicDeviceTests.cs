using System.Buffers.Binary;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using static Contoso.SkeletonNic.SkeletonNicRegisters;

namespace Contoso.SkeletonNic.Tests;

/// <summary>
/// Drives the device as the server does, through the SDK alone: the factory creates it, a
/// <see cref="PciFunction"/> serves its configuration space and BAR (as for a VMM), and a
/// <see cref="RecordingPort"/> stands in for the wire.
/// </summary>
public sealed class SkeletonNicDeviceTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:12:34:56");

    private readonly SkeletonNicFactory _factory = new();
    private readonly RecordingPort _port = new();
    private readonly PciFunction _function;

    public SkeletonNicDeviceTests()
    {
        var device = (NicDevice)_factory.Create(new PersonalitySettings(new NicSettings(Mac)));
        device.AttachPort(_port);
        _function = new PciFunction(device, "nic0");
    }

    [Fact]
    public void The_factory_names_the_personality_a_configuration_asks_for()
    {
        Assert.Equal("skeletonnic", _factory.Name);
        Assert.False(string.IsNullOrWhiteSpace(_factory.Description));
        Assert.Contains(typeof(SkeletonNicFactory).Assembly.GetCustomAttributes(typeof(PolynicModuleAttribute), false),
            a => a is PolynicModuleAttribute m && PolynicSdk.IsCompatible(m.SdkMajor, m.SdkMinor));
    }

    [Fact]
    public void Configuration_space_shows_the_pci_identity()
    {
        Assert.Equal(0x1234, Config16(0x00));                  // vendor ID
        Assert.Equal(0x7a10, Config16(0x02));                  // device ID
        Assert.Equal(SkeletonNicDevice.DefaultRevision, Config8(0x08));
        Assert.Equal(0x02_00_00u, Config32(0x08) >> 8);        // class: Ethernet controller
        Assert.Equal(0x1234, Config16(0x2C));                  // subsystem vendor ID
        Assert.Equal(1, Config8(0x3D));                        // INTA#
    }

    [Fact]
    public void Bar0_sizes_as_4_KiB_of_memory()
    {
        WriteConfig32(0x10, 0xFFFF_FFFF);
        Assert.Equal(~(uint)(BarSize - 1), Config32(0x10));   // memory, 32-bit, not prefetchable
    }

    [Fact]
    public void The_revision_option_sets_the_revision_id()
    {
        var device = _factory.Create(new PersonalitySettings(new NicSettings(Mac), [new("revision", "0x20")]));
        Assert.Equal(0x20, device.Definition.Identity.Revision);
        Assert.Throws<ArgumentException>(() => _factory.Create(new PersonalitySettings(new NicSettings(Mac), [new("revision", "lots")])));
    }

    [Fact]
    public void Registers_identify_the_device_and_hold_what_the_driver_writes()
    {
        Assert.Equal(IdValue, Read32(Id));
        Assert.Equal(Mac, MacAddress.FromLowHigh(Read32(MacLow), Read32(MacHigh)));

        Write32(Scratch, 0xDEAD_BEEF);
        Assert.Equal(0xDEAD_BEEFu, Read32(Scratch));

        Write32(Id, 0);                                         // read-only
        Assert.Equal(IdValue, Read32(Id));
        Assert.Equal(0u, Read32(0x3F0));                        // nothing there: reads zero

        Write32(Control, ControlReset);
        Assert.Equal(0u, Read32(Scratch));
    }

    [Fact]
    public void A_frame_written_to_the_transmit_buffer_goes_to_the_port_and_raises_the_interrupt()
    {
        byte[] frame = Frame(MacAddress.Broadcast, 60);
        Write32(InterruptMask, CauseTransmitted);

        Assert.True(_function.WriteBar(0, TxBuffer, frame));
        Write32(TxLength, (uint)frame.Length);

        Assert.Equal(frame, Assert.Single(_port.Sent));
        Assert.Equal(CauseTransmitted, Read32(InterruptCause) & CauseTransmitted);
        Assert.True(_function.Interrupts.IntxPinAsserted);
        Assert.NotEqual(0, Config16(0x06) & 0x08);             // status: Interrupt Status

        Write32(InterruptCause, CauseTransmitted);             // write one to clear
        Assert.False(_function.Interrupts.IntxPinAsserted);
    }

    [Fact]
    public void A_transmit_length_beyond_the_buffer_is_refused_not_sent()
    {
        Write32(TxLength, 0xFFFF);

        Assert.Empty(_port.Sent);
        Assert.Equal(CauseTransmitError, Read32(InterruptCause) & CauseTransmitError);
    }

    [Fact]
    public void A_frame_from_the_port_lands_in_the_receive_buffer_until_the_driver_frees_it()
    {
        Write32(Control, ControlReceiverOn);
        byte[] frame = Frame(Mac, 100);

        _port.Deliver(frame);

        Assert.Equal((uint)frame.Length, Read32(RxLength));
        Assert.Equal(StatusLinkUp | StatusReceiveFull, Read32(Status));
        Assert.Equal(CauseReceived, Read32(InterruptCause) & CauseReceived);
        byte[] received = new byte[frame.Length];
        Assert.True(_function.ReadBar(0, RxBuffer, received));
        Assert.Equal(frame, received);

        Write32(RxLength, 0);
        Assert.Equal(0u, Read32(RxLength));
    }

    [Fact]
    public void Frames_for_another_station_are_filtered_unless_promiscuous()
    {
        Write32(Control, ControlReceiverOn);
        byte[] frame = Frame(MacAddress.Parse("52:54:00:99:99:99"), 64);

        _port.Deliver(frame);
        Assert.Equal(0u, Read32(RxLength));

        Write32(Control, ControlReceiverOn | ControlPromiscuous);
        _port.Deliver(frame);
        Assert.Equal((uint)frame.Length, Read32(RxLength));
    }

    [Fact]
    public void Link_changes_of_the_port_show_in_status()
    {
        _port.SetLink(false);
        Assert.Equal(0u, Read32(Status) & StatusLinkUp);
        Assert.Equal(CauseLinkChanged, Read32(InterruptCause) & CauseLinkChanged);

        _port.SetLink(true);
        Assert.Equal(StatusLinkUp, Read32(Status) & StatusLinkUp);
    }

    private static byte[] Frame(MacAddress destination, int length)
    {
        byte[] frame = new byte[length];
        destination.CopyTo(frame);
        Mac.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);   // IEEE 802 local experimental EtherType
        for (int i = 14; i < length; i++) frame[i] = (byte)i;
        return frame;
    }

    private uint Read32(uint offset)
    {
        Span<byte> data = stackalloc byte[4];
        Assert.True(_function.ReadBar(0, offset, data));
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    private void Write32(uint offset, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        Assert.True(_function.WriteBar(0, offset, data));
    }

    private uint Config32(int offset)
    {
        Span<byte> data = stackalloc byte[4];
        Assert.True(_function.ReadConfig(offset, data));
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    private int Config16(int offset) => (int)(Config32(offset & ~3) >> (8 * (offset & 3))) & 0xFFFF;

    private int Config8(int offset) => (int)(Config32(offset & ~3) >> (8 * (offset & 3))) & 0xFF;

    private void WriteConfig32(int offset, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        Assert.True(_function.WriteConfig(offset, data));
    }
}
