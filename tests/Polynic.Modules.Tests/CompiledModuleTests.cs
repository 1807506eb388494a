using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.TestMachine;

namespace Polynic.Modules.Tests;

public sealed class CompiledModuleTests : IDisposable
{
    private static readonly MacAddress Mac = MacAddress.FromUInt64(0x52_54_00_AB_CD_EF);
    private readonly TempDirectory _temp = new();
    private readonly ModuleCatalog _catalog;

    public CompiledModuleTests() => _catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _temp.Combine("cache") });

    public void Dispose() => _temp.Dispose();

    private string BuildToy(string name = "toy") => ModuleBuilder.Compile(_temp.Combine("modules", name), name, ModuleSources.Toy);

    [Fact]
    public void A_loaded_module_creates_a_device_the_machine_enumerates_with_the_module_identity()
    {
        string file = BuildToy();

        var info = _catalog.Load(file);

        Assert.Equal(ModuleState.Loaded, info.State);
        Assert.Null(info.Reason);
        Assert.Equal("toy", info.Name);
        Assert.Equal(ModuleKind.Compiled, info.Kind);
        Assert.Equal(file, info.File);
        Assert.Equal(PolynicSdk.Version, info.SdkVersion);
        Assert.Equal(["toy"], info.Personalities);
        Assert.Equal([info], _catalog.List());
        var personality = Assert.Single(_catalog.Personalities());
        Assert.Equal(new ModulePersonality("toy", "Toy NIC (1234:11ab) built at test time", "toy"), personality);

        var device = _catalog.Create("TOY", new PersonalitySettings(new NicSettings(Mac), [new("revision", "7")]));

        // The device's code lives in the module's own collectible context, yet it is the
        // server's IPciDevice / NicDevice: Polynic.Core was shared, not loaded twice.
        var context = AssemblyLoadContext.GetLoadContext(device.GetType().Assembly)!;
        Assert.NotSame(AssemblyLoadContext.Default, context);
        Assert.True(context.IsCollectible);
        Assert.IsAssignableFrom<NicDevice>(device);
        Assert.Same(typeof(IPciDevice).Assembly, device.GetType().BaseType!.Assembly);

        var machine = new Machine();
        int slot = machine.Plug(device, "toy0");
        Assert.Equal(0x11ab_1234u, machine.ConfigRead(slot, 0x00));
        Assert.Equal(7u, machine.ConfigRead(slot, 0x08, width: 1));
        Assert.Equal(0x02_00_00u, machine.ConfigRead(slot, 0x08) >> 8);
        var bars = machine.Enumerate(slot);
        Assert.Equal(0xAB_00_54_52u, machine.MmioRead(bars[0]));
    }

    [Fact]
    public void Unloading_a_module_drops_its_personalities_and_its_load_context_is_collected()
    {
        string file = BuildToy();
        var weak = LoadUseAndUnload(file);

        Assert.True(Collection.WaitUntilCollected(weak), "the module's load context is still alive after 20 collections");
        Assert.Empty(_catalog.List());
        Assert.Empty(_catalog.Personalities());
        Assert.False(_catalog.TryGetFactory("toy", out _));
        var missing = Assert.Throws<KeyNotFoundException>(() => _catalog.Create("toy", new PersonalitySettings(new NicSettings(Mac))));
        Assert.Contains("'toy'", missing.Message);

        // The file was never held open or locked: it can be rebuilt and loaded again.
        File.Delete(file);
        file = BuildToy();
        Assert.Equal(ModuleState.Loaded, _catalog.Load(file).State);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference LoadUseAndUnload(string file)
    {
        Assert.Equal(ModuleState.Loaded, _catalog.Load(file).State);
        UseDevice();
        return _catalog.Unload("toy");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void UseDevice()
    {
        var machine = new Machine();
        int slot = machine.Plug(_catalog.Create("toy", new PersonalitySettings(new NicSettings(Mac))));
        Assert.Equal(0x11ab_1234u, machine.ConfigRead(slot, 0x00));
    }

    [Fact]
    public void A_device_still_in_use_keeps_its_module_alive_until_released()
    {
        string file = BuildToy();
        var holder = new List<IPciDevice>();
        var weak = LoadCreateAndUnload(file, holder);

        Assert.False(Collection.WaitUntilCollected(weak, attempts: 3));
        Assert.Equal(0x11ab_1234u, VendorAndDevice(holder));

        holder.Clear();
        Assert.True(Collection.WaitUntilCollected(weak));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference LoadCreateAndUnload(string file, List<IPciDevice> holder)
    {
        Assert.Equal(ModuleState.Loaded, _catalog.Load(file).State);
        holder.Add(_catalog.Create("toy", new PersonalitySettings(new NicSettings(Mac))));
        return _catalog.Unload("toy");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint VendorAndDevice(List<IPciDevice> holder)
    {
        var machine = new Machine();
        return machine.ConfigRead(machine.Plug(holder[0]), 0x00);
    }

    [Fact]
    public void A_module_whose_factory_throws_fails_with_file_and_message_while_the_others_load()
    {
        string modules = _temp.Combine("modules");
        string toy = BuildToy();
        string broken = ModuleBuilder.Compile(modules, "broken", ModuleSources.ThrowingFactory);
        string future = ModuleBuilder.Compile(modules, "future", ModuleSources.FutureSdk);

        var results = _catalog.LoadDirectory(modules);

        Assert.Equal(["broken", "future", "toy"], results.Select(r => r.Name));
        var failed = results[0];
        Assert.Equal(ModuleState.Failed, failed.State);
        Assert.Equal(broken, failed.File);
        Assert.StartsWith(broken + ":", failed.Reason);
        Assert.Contains("BrokenFactory", failed.Reason);
        Assert.Contains("InvalidOperationException: licence file /etc/broken.lic missing", failed.Reason);
        Assert.Empty(failed.Personalities);

        var refused = results[1];
        Assert.Equal(ModuleState.Incompatible, refused.State);
        Assert.Equal(future, refused.File);
        Assert.Equal("2.0", refused.SdkVersion);

        Assert.Equal(ModuleState.Loaded, results[2].State);
        Assert.Equal(toy, results[2].File);
        Assert.Equal(results, _catalog.List());
        Assert.Equal(["toy"], _catalog.Personalities().Select(p => p.Name));
        Assert.False(_catalog.TryGetFactory("broken", out _));
        var machine = new Machine();
        Assert.Equal(0x11ab_1234u, machine.ConfigRead(machine.Plug(_catalog.Create("toy", new PersonalitySettings(new NicSettings(Mac)))), 0));

        // A failed entry can be forgotten; Unload says there was nothing to collect.
        Assert.Null(_catalog.Unload("broken").Target);
        Assert.Equal(["future", "toy"], _catalog.List().Select(i => i.Name));
    }

    [Fact]
    public void A_module_for_another_sdk_major_is_refused_naming_the_file_and_both_versions_before_its_code_runs()
    {
        string future = ModuleBuilder.Compile(_temp.Combine("modules"), "future", ModuleSources.FutureSdk);

        var info = _catalog.Load(future);

        Assert.Equal(ModuleState.Incompatible, info.State);
        Assert.Equal($"{future}: built for Polynic SDK 2.0, this server provides SDK {PolynicSdk.Version}; the major versions differ, rebuild the module against SDK {PolynicSdk.Version}", info.Reason);
        Assert.DoesNotContain("must never run", info.Reason);
        Assert.Empty(_catalog.Personalities());
    }

    [Fact]
    public void An_assembly_without_the_module_attribute_is_refused()
    {
        string plain = ModuleBuilder.Compile(_temp.Combine("modules"), "plain", "public static class Nothing { }");

        var info = _catalog.Load(plain);

        Assert.Equal(ModuleState.Incompatible, info.State);
        Assert.Null(info.SdkVersion);
        Assert.StartsWith($"{plain}: not a Polynic module", info.Reason);
    }

    [Fact]
    public void A_file_that_is_not_an_assembly_is_refused()
    {
        string junk = _temp.Combine("junk.dll");
        File.WriteAllText(junk, "MZ? no");

        var info = _catalog.Load(junk);

        Assert.Equal(ModuleState.Incompatible, info.State);
        Assert.Equal($"{junk}: not a .NET assembly", info.Reason);
    }

    [Fact]
    public void A_second_module_claiming_a_taken_personality_name_fails_naming_the_owner()
    {
        string toy = BuildToy();
        string impostor = ModuleBuilder.Compile(_temp.Combine("modules"), "impostor", ModuleSources.ToyImpostor);
        _catalog.Load(toy);

        var info = _catalog.Load(impostor);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.Equal($"{impostor}: personality 'TOY' is already provided by module 'toy' ({toy})", info.Reason);
        Assert.Equal("Toy NIC (1234:11ab) built at test time", _catalog.Personalities().Single().Description);
    }

    [Fact]
    public void A_module_may_not_claim_a_built_in_personality()
    {
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _temp.Combine("cache"), ReservedPersonalities = ["e1000", "Toy"] });

        var info = catalog.Load(BuildToy());

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.EndsWith(": personality 'toy' is built into the server", info.Reason);
    }

    [Fact]
    public void Loading_a_loaded_module_name_again_is_an_error_of_the_caller()
    {
        string toy = BuildToy();
        _catalog.Load(toy);

        var e = Assert.Throws<InvalidOperationException>(() => _catalog.Load(toy));

        Assert.Contains("module 'toy' is already loaded", e.Message);
    }

    [Fact]
    public void Validate_reports_without_loading_and_its_context_is_collected()
    {
        string toy = BuildToy();
        string broken = ModuleBuilder.Compile(_temp.Combine("modules"), "broken", ModuleSources.ThrowingFactory);

        var valid = _catalog.Validate(toy);
        var failed = _catalog.Validate(broken);

        Assert.Equal(ModuleState.Valid, valid.State);
        Assert.Equal(["toy"], valid.Personalities);
        Assert.Equal(ModuleState.Failed, failed.State);
        Assert.Contains("licence file /etc/broken.lic missing", failed.Reason);
        Assert.Empty(_catalog.List());
        Assert.Empty(_catalog.Personalities());
        // AssemblyLoadContext.All tracks contexts weakly: the throwaway contexts disappear.
        for (int i = 0; i < 20 && ContextExists("polynic-module:toy", "polynic-module:broken"); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(ContextExists("polynic-module:toy", "polynic-module:broken"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool ContextExists(params string[] names) => AssemblyLoadContext.All.Any(c => names.Contains(c.Name));

    [Fact]
    public void A_private_dependency_is_loaded_from_the_module_folder_into_the_module_context()
    {
        string folder = _temp.Combine("modules", "withdep");
        string helper = ModuleBuilder.Compile(folder, "ToyHelper", "namespace ToyHelper; public static class Rev { public static byte Value => 0x42; }");
        string source = ModuleSources.Toy
            .Replace("byte.Parse(settings.GetOption(\"revision\", \"1\"))", "ToyHelper.Rev.Value")
            .Replace("\"toy\"", "\"withdep\"");
        string module = ModuleBuilder.Compile(folder, "withdep", source, helper);

        var info = _catalog.Load(module);

        Assert.Equal(ModuleState.Loaded, info.State);
        var device = _catalog.Create("withdep", new PersonalitySettings(new NicSettings(Mac)));
        var machine = new Machine();
        Assert.Equal(0x42u, machine.ConfigRead(machine.Plug(device), 0x08, width: 1));
        var helperAssembly = AppDomain.CurrentDomain.GetAssemblies().Single(a => a.GetName().Name == "ToyHelper");
        Assert.Same(AssemblyLoadContext.GetLoadContext(device.GetType().Assembly), AssemblyLoadContext.GetLoadContext(helperAssembly));
    }

    [Fact]
    public void Concurrent_loads_lookups_and_creates_are_safe()
    {
        var files = Enumerable.Range(0, 6)
            .Select(i => ModuleBuilder.Compile(_temp.Combine("modules", $"toy{i}"), $"toy{i}", ModuleSources.Toy.Replace("\"toy\"", $"\"toy{i}\"")))
            .ToArray();

        Parallel.ForEach(files, file =>
        {
            var info = _catalog.Load(file);
            Assert.Equal(ModuleState.Loaded, info.State);
            _ = _catalog.List();
            var device = _catalog.Create(info.Personalities.Single(), new PersonalitySettings(new NicSettings(Mac)));
            var machine = new Machine();
            Assert.Equal(0x11ab_1234u, machine.ConfigRead(machine.Plug(device), 0));
        });

        Assert.Equal(6, _catalog.Personalities().Count);
    }
}
