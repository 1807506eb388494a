using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Polynic.Core.Modules;

namespace Polynic.Modules.Tests;

/// <summary>
/// The cache of compiled source modules decides what code the server runs: whoever can write
/// it can make the server load their assembly. Uid 65534 plays another local user (the tests
/// run as root, as CI does).
/// </summary>
public sealed class ModuleCacheTests : IDisposable
{
    private const int Nobody = 65534;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly TempDirectory _temp = new();
    private readonly string _cache;
    private readonly string _source;

    public ModuleCacheTests()
    {
        _cache = _temp.Combine("cache");
        Directory.CreateDirectory(_temp.Combine("modules"));
        _source = _temp.Combine("modules", "src-toy.cs");
        File.WriteAllText(_source, ModuleSources.ToySource);
    }

    public void Dispose() => _temp.Dispose();

    private string CachedImage => Path.Combine(_cache, SourceModuleCompiler.CacheKey(File.ReadAllBytes(_source)) + ".dll");

    /// <summary>A valid module image whose code is not the source's: a personality named "evil".</summary>
    private byte[] ForeignImage()
    {
        string evil = _temp.Combine("evil.cs");
        File.WriteAllText(evil, ModuleSources.ToySource.Replace("\"toy-source\"", "\"evil\""));
        return new SourceModuleCompiler(_temp.Combine("evil-cache")).Compile(evil).Image!;
    }

    [Fact]
    public void The_cache_directory_is_created_0700_and_its_entries_0600()
    {
        var compiled = new SourceModuleCompiler(_cache).Compile(_source);

        Assert.True(compiled.Succeeded);
        Assert.Equal(Private, File.GetUnixFileMode(_cache));
        Assert.NotEmpty(Directory.GetFiles(_cache));
        Assert.All(Directory.GetFiles(_cache), file => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file)));
    }

    [Fact]
    public void A_tampered_cached_image_is_not_loaded_but_compiled_again()
    {
        Assert.False(new SourceModuleCompiler(_cache).Compile(_source).FromCache);
        File.WriteAllBytes(CachedImage, ForeignImage());
        var log = new ListLogger();
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _cache, Log = log });

        var info = catalog.Load(_source);

        Assert.Equal(ModuleState.Loaded, info.State);
        Assert.False(info.FromCache);
        Assert.Equal(1, catalog.Compiler.Compilations);
        Assert.Equal(["toy-source"], catalog.Personalities().Select(p => p.Name));
        Assert.Contains(log.Messages, m => m.Contains("does not match the SHA-256 recorded when it was compiled"));
        // The entry was rewritten: the next server start takes it from the cache again.
        Assert.True(new SourceModuleCompiler(_cache).Compile(_source).FromCache);
    }

    [Fact]
    public void An_image_without_its_record_is_compiled_again_and_then_recorded()
    {
        Assert.False(new SourceModuleCompiler(_cache).Compile(_source).FromCache);
        File.Delete(Path.ChangeExtension(CachedImage, ".sha256"));
        File.WriteAllBytes(CachedImage, ForeignImage());

        var compiler = new SourceModuleCompiler(_cache);
        Assert.False(compiler.Compile(_source).FromCache);
        Assert.True(compiler.Compile(_source).FromCache);
        Assert.Equal(1, compiler.Compilations);
    }

    [Fact]
    public void A_cache_directory_others_may_write_is_neither_read_nor_written_and_the_reason_is_logged()
    {
        Assert.False(new SourceModuleCompiler(_cache).Compile(_source).FromCache);
        // Another user, allowed to write the directory, puts their image where the cache looks.
        File.SetUnixFileMode(_cache, (UnixFileMode)0x1FF);
        File.WriteAllBytes(CachedImage, ForeignImage());
        var log = new ListLogger();
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _cache, Log = log });

        var info = catalog.Load(_source);

        Assert.False(info.FromCache);
        Assert.Equal(["toy-source"], catalog.Personalities().Select(p => p.Name));
        Assert.Contains(log.Messages, m => m.Contains($"{_cache} is writable by group or others (mode 0777) and not sticky"));
        var before = File.GetLastWriteTimeUtc(CachedImage);
        Assert.False(catalog.Compiler.Compile(_source).FromCache);
        Assert.Equal(before, File.GetLastWriteTimeUtc(CachedImage));
    }

    [Fact]
    public void A_cache_directory_another_user_owns_is_not_used()
    {
        Directory.CreateDirectory(_cache, Private);
        File.WriteAllBytes(CachedImage, ForeignImage());
        Chown(_cache);
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _cache });

        var info = catalog.Load(_source);

        Assert.False(info.FromCache);
        Assert.Equal(["toy-source"], catalog.Personalities().Select(p => p.Name));
        Assert.Single(Directory.GetFiles(_cache));
    }

    private static void Chown(string path)
    {
        var chown = Process.Start(new ProcessStartInfo("chown", ["-h", $"{Nobody}:{Nobody}", path]) { RedirectStandardError = true })!;
        string error = chown.StandardError.ReadToEnd();
        chown.WaitForExit();
        Assert.True(chown.ExitCode == 0, $"chown {path} failed (these tests run as root, as CI does): {error}");
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _messages = [];

        public string[] Messages { get { lock (_messages) return [.. _messages]; } }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_messages) _messages.Add(formatter(state, exception));
        }
    }
}
