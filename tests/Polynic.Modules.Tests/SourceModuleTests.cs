using System.Runtime.CompilerServices;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.TestMachine;

namespace Polynic.Modules.Tests;

public sealed class SourceModuleTests : IDisposable
{
    private static readonly PersonalitySettings Settings = new(NicSettings.ForIndex(1), [new("revision", "3")]);
    private readonly TempDirectory _temp = new();
    private readonly string _cache;
    private readonly ModuleCatalog _catalog;

    public SourceModuleTests()
    {
        _cache = _temp.Combine("cache");
        _catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _cache });
    }

    public void Dispose() => _temp.Dispose();

    private string WriteSource(string name, string text)
    {
        Directory.CreateDirectory(_temp.Combine("modules"));
        string path = _temp.Combine("modules", name + ".cs");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_source_module_is_compiled_when_loaded_and_its_device_works()
    {
        string file = WriteSource("src-toy", ModuleSources.ToySource);

        var info = _catalog.Load(file);

        Assert.Equal(ModuleState.Loaded, info.State);
        Assert.Equal(ModuleKind.Source, info.Kind);
        Assert.Equal("src-toy", info.Name);
        Assert.Equal(PolynicSdk.Version, info.SdkVersion);
        Assert.False(info.FromCache);
        Assert.DoesNotContain(info.Diagnostics, d => d.IsError);
        Assert.Equal(1, _catalog.Compiler.Compilations);
        var machine = new Machine();
        int slot = machine.Plug(_catalog.Create("toy-source", Settings));
        Assert.Equal(0x11ab_1234u, machine.ConfigRead(slot, 0x00));
        Assert.Equal(3u, machine.ConfigRead(slot, 0x08, width: 1));
    }

    [Fact]
    public void A_second_load_of_the_same_source_comes_from_the_cache_without_compiling()
    {
        string file = WriteSource("src-toy", ModuleSources.ToySource);
        Assert.False(_catalog.Load(file).FromCache);
        string key = SourceModuleCompiler.CacheKey(File.ReadAllBytes(file));
        Assert.True(File.Exists(Path.Combine(_cache, key + ".dll")));
        _catalog.Unload("src-toy");

        var again = _catalog.Load(file);

        Assert.Equal(ModuleState.Loaded, again.State);
        Assert.True(again.FromCache);
        Assert.Equal(1, _catalog.Compiler.Compilations);

        // A new server process (a new catalog) on the same cache does not compile either.
        var restarted = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _cache });
        var third = restarted.Load(file);
        Assert.True(third.FromCache);
        Assert.Equal(0, restarted.Compiler.Compilations);
        var machine = new Machine();
        Assert.Equal(0x11ab_1234u, machine.ConfigRead(machine.Plug(restarted.Create("toy-source", Settings)), 0));

        // Any change to the source is a different key: compiled again.
        File.AppendAllText(file, "\n// edited\n");
        _catalog.Unload("src-toy");
        var edited = _catalog.Load(file);
        Assert.False(edited.FromCache);
        Assert.Equal(2, _catalog.Compiler.Compilations);
    }

    [Fact]
    public void The_cache_key_covers_the_sdk_version_as_well_as_the_source()
    {
        byte[] source = "class C { }"u8.ToArray();
        string key = SourceModuleCompiler.CacheKey(source);

        Assert.Equal(64, key.Length);
        Assert.Equal(key, SourceModuleCompiler.CacheKey(source));
        Assert.NotEqual(key, SourceModuleCompiler.CacheKey("class D { }"u8));
        Assert.NotEqual(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(source)), key);
    }

    [Fact]
    public void A_source_module_with_a_compile_error_fails_with_file_line_and_column()
    {
        string file = WriteSource("src-broken", ModuleSources.CompileError);

        var info = _catalog.Load(file);

        Assert.Equal(ModuleState.Failed, info.State);
        Assert.Equal(ModuleKind.Source, info.Kind);
        var error = Assert.Single(info.Diagnostics, d => d.IsError);
        Assert.Equal(file, error.File);
        Assert.Equal(9, error.Line);
        Assert.Equal(35, error.Column);
        Assert.Equal("CS0103", error.Id);
        Assert.Equal($"{file}:9:35: error CS0103: The name 'helo' does not exist in the current context", error.ToString());
        Assert.Equal($"{file}: does not compile (1 error(s)); first: {error}", info.Reason);
        Assert.Empty(_catalog.Personalities());
        Assert.Empty(Directory.Exists(_cache) ? Directory.GetFiles(_cache) : []);

        // The good module beside it still loads.
        string good = WriteSource("src-toy", ModuleSources.ToySource);
        Assert.Equal(ModuleState.Loaded, _catalog.Load(good).State);
        Assert.Equal(["src-broken", "src-toy"], _catalog.List().Select(i => i.Name));
    }

    [Fact]
    public void A_source_module_cannot_reach_beyond_the_sdk()
    {
        // Polynic.Modules (and so Roslyn, the test machine, the server) is not referenced.
        string file = WriteSource("src-sneaky", ModuleSources.ToySource.Replace("using System;", "using System; using Polynic.Modules;"));

        var info = _catalog.Load(file);

        Assert.Equal(ModuleState.Failed, info.State);
        var error = Assert.Single(info.Diagnostics, d => d.IsError);
        Assert.Equal(("CS0234", 1, 29), (error.Id, error.Line, error.Column));
        Assert.Contains("'Modules' does not exist in the namespace 'Polynic'", error.Message);
    }

    [Fact]
    public void An_unloaded_source_module_is_collected()
    {
        string file = WriteSource("src-toy", ModuleSources.ToySource);

        var weak = LoadUseAndUnload(file);

        Assert.True(Collection.WaitUntilCollected(weak));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference LoadUseAndUnload(string file)
    {
        Assert.Equal(ModuleState.Loaded, _catalog.Load(file).State);
        var machine = new Machine();
        Assert.Equal(0x11ab_1234u, machine.ConfigRead(machine.Plug(_catalog.Create("toy-source", Settings)), 0));
        return _catalog.Unload("src-toy");
    }

    [Fact]
    public void Validate_compiles_and_reports_a_source_module_without_loading_it()
    {
        string broken = WriteSource("src-broken", ModuleSources.CompileError);
        string good = WriteSource("src-toy", ModuleSources.ToySource);

        var failed = _catalog.Validate(broken);
        var valid = _catalog.Validate(good);

        Assert.Equal(ModuleState.Failed, failed.State);
        Assert.Equal(9, failed.Diagnostics.Single(d => d.IsError).Line);
        Assert.Equal(ModuleState.Valid, valid.State);
        Assert.Equal(["toy-source"], valid.Personalities);
        Assert.Empty(_catalog.List());
    }

    [Fact]
    public void A_directory_mixes_compiled_and_source_modules()
    {
        string modules = _temp.Combine("modules");
        ModuleBuilder.Compile(Path.Combine(modules, "toy"), "toy", ModuleSources.Toy);
        WriteSource("src-toy", ModuleSources.ToySource);
        File.WriteAllText(Path.Combine(modules, "README.txt"), "not a module");

        var results = _catalog.LoadDirectory(modules);

        Assert.Equal([("src-toy", ModuleKind.Source), ("toy", ModuleKind.Compiled)], results.Select(r => (r.Name, r.Kind)));
        Assert.All(results, r => Assert.Equal(ModuleState.Loaded, r.State));
        Assert.Equal(["toy", "toy-source"], _catalog.Personalities().Select(p => p.Name));
    }
}
