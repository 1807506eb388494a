using System.Reflection;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Modules;
using Polynic.Modules.Descriptors;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// A personality to fuzz: how to create a fresh device of it for each run, and what the fuzzer
/// knows about it (its profile, its descriptor's register map).
/// </summary>
public sealed class DeviceTarget
{
    private readonly Func<TimeProvider?, IPciDevice> _create;

    internal DeviceTarget(string name, Func<TimeProvider?, IPciDevice> create, bool takesClock, DeviceProfile profile, IReadOnlyList<RegisterHint> registers)
    {
        Name = name;
        _create = create;
        TakesClock = takesClock;
        Profile = profile;
        Registers = registers;
    }

    /// <summary>The personality's name.</summary>
    public string Name { get; }

    /// <summary>Whether devices are built on the fuzzer's manual clock.</summary>
    public bool TakesClock { get; }

    internal DeviceProfile Profile { get; }

    /// <summary>Registers to favour: the profile's, and every register a descriptor declares.</summary>
    internal IReadOnlyList<RegisterHint> Registers { get; }

    /// <summary>A new device, on <paramref name="clock"/> when <see cref="TakesClock"/>.</summary>
    internal IPciDevice Create(TimeProvider? clock)
    {
        var device = _create(clock);
        Profile.Prepare(device);
        return device;
    }

    /// <summary>
    /// Personality <paramref name="personality"/> from a module catalog, created as the server does
    /// (the module's factory, with the fuzzer's MAC and no options). When the device's type also offers
    /// a public (NicSettings, TimeProvider) constructor — the e1000 does, for its moderation timers —
    /// and the profile allows it, devices are built through that constructor on the fuzzer's manual
    /// clock, so timers fire inside steps and a seed replays exactly — provided it builds the same
    /// PCI identity as the factory (the e1000e shares the e1000's type but not that constructor).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No loaded module provides the personality.</exception>
    /// <exception cref="InvalidOperationException">Its factory failed.</exception>
    public static DeviceTarget FromCatalog(ModuleCatalog catalog, string personality)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var nic = new NicSettings(FuzzedDevice.Mac);
        var settings = new PersonalitySettings(nic);
        var probe = catalog.Create(personality, settings);
        var profile = DeviceProfile.For(personality);
        if (profile is GenericProfile && probe is DescriptorDevice described) profile = new DescriptorProfile(described.Descriptor);
        var registers = profile is DescriptorProfile ? profile.Registers : profile.Registers.Concat(DescriptorRegisters(catalog, personality)).ToArray();
        var clocked = profile.UsesManualClock && probe is NicDevice
            ? probe.GetType().GetConstructor(BindingFlags.Public | BindingFlags.Instance, [typeof(NicSettings), typeof(TimeProvider)])
            : null;
        if (clocked is not null)
        {
            // One type may serve several personalities (the E1000 module's e1000 and e1000e): the
            // constructor is used only if it builds the same PCI function the factory does.
            var trial = (IPciDevice)clocked.Invoke([nic, TimeProvider.System]);
            if (trial.Definition.Identity != probe.Definition.Identity) clocked = null;
            if (trial is IDisposable trialDisposable) trialDisposable.Dispose();
        }
        if (probe is IDisposable disposable) disposable.Dispose();
        if (clocked is not null)
            return new DeviceTarget(personality, clock => (IPciDevice)clocked.Invoke([nic, clock ?? TimeProvider.System]), true, profile, registers);
        return new DeviceTarget(personality, _ => catalog.Create(personality, settings), false, profile, registers);
    }

    /// <summary>A device made by <paramref name="create"/> (tests of the fuzzer itself), with the generic profile unless one is given.</summary>
    internal static DeviceTarget ForDevice(string name, Func<TimeProvider?, IPciDevice> create, bool takesClock, DeviceProfile? profile = null)
    {
        profile ??= new GenericProfile();
        return new DeviceTarget(name, create, takesClock, profile, profile.Registers);
    }

    /// <summary>Every register of the personality's descriptor (none unless it came from an XML descriptor that declares some).</summary>
    private static IEnumerable<RegisterHint> DescriptorRegisters(ModuleCatalog catalog, string personality)
    {
        var module = catalog.Personalities().FirstOrDefault(p => string.Equals(p.Name, personality, StringComparison.OrdinalIgnoreCase))?.Module;
        var info = catalog.List().FirstOrDefault(m => m.Name == module && m.Kind == ModuleKind.Descriptor);
        if (info is null || PersonalityDescriptorReader.Read(info.File).Descriptor is not { } descriptor) yield break;
        foreach (var r in descriptor.Registers)
            for (int i = 0; i < r.Spec.Count; i++)
                yield return new RegisterHint(r.Bar, r.Spec.Offset + (uint)i * r.Spec.Stride, 4);
    }
}
