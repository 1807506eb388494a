namespace Polynic.Core.Pci;

/// <summary>Offsets and bits of the type-0 configuration header (PCI 3.0, section 6.2).</summary>
internal static class ConfigRegisters
{
    public const int VendorId = 0x00;
    public const int DeviceId = 0x02;
    public const int Command = 0x04;
    public const int Status = 0x06;
    public const int Revision = 0x08;
    public const int ClassCode = 0x09;
    public const int CacheLineSize = 0x0C;
    public const int LatencyTimer = 0x0D;
    public const int HeaderType = 0x0E;
    public const int Bar0 = 0x10;
    public const int SubsystemVendorId = 0x2C;
    public const int SubsystemId = 0x2E;
    public const int CapabilitiesPointer = 0x34;
    public const int InterruptLine = 0x3C;
    public const int InterruptPin = 0x3D;
    public const int FirstCapability = 0x40;

    public const ushort CommandIoSpace = 1 << 0;
    public const ushort CommandMemorySpace = 1 << 1;
    public const ushort CommandBusMaster = 1 << 2;
    public const ushort CommandParityErrorResponse = 1 << 6;
    public const ushort CommandSerr = 1 << 8;
    public const ushort CommandInterruptDisable = 1 << 10;

    /// <summary>The command bits a conventional PCI function implements here; the rest are hardwired to zero.</summary>
    public const ushort CommandWritable = CommandIoSpace | CommandMemorySpace | CommandBusMaster
        | CommandParityErrorResponse | CommandSerr | CommandInterruptDisable;

    public const ushort StatusInterrupt = 1 << 3;
    public const ushort StatusCapabilitiesList = 1 << 4;

    /// <summary>Master data parity error, signaled/received target abort, received master abort, signaled system error, detected parity error: all RW1C.</summary>
    public const ushort StatusWriteOneToClear = (1 << 8) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15);

    public const byte CapabilityIdPowerManagement = 0x01;
    public const byte CapabilityIdMsi = 0x05;
    public const byte CapabilityIdMsix = 0x11;
    public const byte CapabilityIdVendor = 0x09;
}
