namespace Polynic.Fuzzing.Devices;

/// <summary>
/// Whether a device survived fuzzing: after a function-level reset and re-enumeration it must still
/// answer configuration space with its identity, and its profile's driver must bring it up, see a
/// known register and move a known frame each way. The cable is plugged back in first (a fuzzed
/// run may have pulled it).
/// </summary>
internal static class SanityCheck
{
    /// <summary>Null if the device is sane, else what is wrong.</summary>
    public static string? Run(FuzzedDevice d, DeviceProfile profile)
    {
        d.ResetAndEnumerate();
        if (d.Port is { LinkUp: false } port) port.SetLink(true);
        var identity = d.Function.Definition.Identity;
        uint ids = d.ConfigRead(0x00, 4);
        if ((ushort)ids != identity.VendorId || ids >> 16 != identity.DeviceId)
            return $"config space reads vendor:device {ids & 0xFFFF:x4}:{ids >> 16:x4}, not {identity.VendorId:x4}:{identity.DeviceId:x4}";
        profile.Initialize(d);
        return profile.Check(d);
    }
}
