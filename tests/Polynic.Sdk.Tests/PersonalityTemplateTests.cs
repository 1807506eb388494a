using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Management.Configuration;
using Polynic.Management.Control;
using Polynic.Management.Hosting;
using Polynic.Modules;
using Xunit.Abstractions;

namespace Polynic.Sdk.Tests;

/// <summary>
/// The path a third party takes to a new personality, end to end with the real CLI: pack the SDK
/// and the template, install the template, create a personality, run its own test, build it, and
/// load the module into a running Polynic server through its control socket and serve a NIC of it.
/// </summary>
/// <remarks>
/// Nothing of the machine is changed: the template is installed into a hive of the test's own,
/// and the SDK is packed under a version unique to the run (so the shared package cache can
/// never serve a stale copy of it), whose cache entry is removed at the end.
/// </remarks>
public sealed class PersonalityTemplateTests(ITestOutputHelper log) : IDisposable
{
    private const string Name = "Acme.Widget";
    private const string Personality = "widget";
    private const ushort VendorId = 0x5a17;
    private const ushort DeviceId = 0x0c0a;

    private readonly TempDirectory _temp = new();
    private readonly string _version = $"{PolynicSdk.Major}.{PolynicSdk.Minor}.0-test.{DateTime.UtcNow.Ticks}";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private string? _globalPackages;

    [Fact]
    public async Task A_personality_created_from_the_template_passes_its_own_test_builds_and_loads_into_a_running_polynic_server()
    {
        string packages = PackSdkAndTemplate();
        string hive = _temp.Combine("hive");
        string work = _temp.Combine("work");
        Directory.CreateDirectory(work);

        Step("install the template", () => DotnetCli.Succeed(work,
            "new", "install", Path.Combine(packages, $"Polynic.Templates.{_version}.nupkg"), "--debug:custom-hive", hive));
        Step("create the personality", () => DotnetCli.Succeed(work,
            "new", "polynic-personality", "-n", Name,
            "--vendor-id", $"{VendorId:x4}", "--device-id", $"0x{DeviceId:X4}",
            "--sdk-version", _version, "--sdk-source", packages,
            "--debug:custom-hive", hive));
        string solution = Path.Combine(work, Name);
        Assert.True(File.Exists(Path.Combine(solution, Name + ".slnx")), "the template did not create the solution");

        // Restoring resolves Polynic.Sdk into the shared cache: from here on that entry is ours to remove.
        _globalPackages = GlobalPackagesFolder();
        var test = Step("run the generated test", () => DotnetCli.Succeed(solution, "test", "--disable-build-servers"));
        var passed = Regex.Match(test.Output, @"Passed:\s+(\d+)");
        Assert.True(passed.Success && int.Parse(passed.Groups[1].Value) > 0, test.ToString());
        Assert.Matches(@"Failed:\s+0\b", test.Output);

        string project = Path.Combine(solution, Name, Name + ".csproj");
        Step("build the module", () => DotnetCli.Succeed(solution, "build", project, "--disable-build-servers"));
        string output = Path.Combine(solution, Name, "bin", "Debug", "net10.0");
        Assert.True(File.Exists(Path.Combine(output, Name + ".dll")), $"no {Name}.dll in {output}");
        // The server supplies the SDK: a copy beside the module would be a second Polynic.Core.
        Assert.False(File.Exists(Path.Combine(output, "Polynic.Core.dll")), "Polynic.Core.dll was copied beside the module");

        // Installed as the generated README says: the build output in a folder of its own, named as the module.
        string modules = _temp.Combine("modules");
        string installed = Path.Combine(modules, Name);
        Directory.CreateDirectory(installed);
        foreach (var file in Directory.EnumerateFiles(output)) File.Copy(file, Path.Combine(installed, Path.GetFileName(file)));

        var loaded = await LoadIntoPolynicAsync(modules, Personality);

        Assert.True(loaded.State == ModuleState.Loaded, $"module not loaded: {loaded.Reason}");
        Assert.Contains(Personality, loaded.Personalities);
        Assert.Equal(VendorId, loaded.Identity.VendorId);
        Assert.Equal(DeviceId, loaded.Identity.DeviceId);
        Assert.Equal(0x02_00_00u, loaded.Identity.ClassCode);
        log.WriteLine($"{_clock.Elapsed.TotalSeconds:F1} s in all");
    }

    /// <summary>What a Polynic server made of a module: its state, its personalities, and the PCI identity a device of it shows.</summary>
    private sealed record LoadedModule(ModuleState State, string? Reason, IReadOnlyList<string> Personalities, PciIdentity Identity);

    /// <summary>
    /// Loads the module into a running Polynic server through its control socket, as
    /// <c>polynic modules load --server</c> does, then adds a NIC of the new personality there
    /// (<c>polynic nics add</c>) and reads the identity a VMM would enumerate from the served
    /// function's configuration space.
    /// </summary>
    private async Task<LoadedModule> LoadIntoPolynicAsync(string modulesDirectory, string personality)
    {
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _temp.Combine("module-cache") });
        var empty = new PolynicConfiguration("test", null, [], []);
        await using var host = await ServerHost.StartAsync(empty, catalog, NullLoggerFactory.Instance);
        string control = _temp.Combine("control.sock");
        await using var server = new ControlServer(host, control, NullLoggerFactory.Instance);
        server.Start();

        string module = Path.Combine(modulesDirectory, Name, Name + ".dll");
        var load = await ControlClient.SendAsync(control, new ControlRequest(ControlCommands.ModulesLoad, Path: module));
        var info = catalog.List().Single();
        if (!load.Ok) return new LoadedModule(info.State, load.Error, info.Personalities, new PciIdentity(0, 0, 0));

        var add = await ControlClient.SendAsync(control, new ControlRequest(ControlCommands.NicsAdd, Spec: $"{personality}:{_temp.Combine("widget0.sock")},name=widget0"));
        Assert.True(add.Ok, add.Error);
        var function = Assert.Single(host.Functions).Function;
        var header = new byte[12];
        Assert.True(function.ReadConfig(0, header));
        var identity = new PciIdentity(
            VendorId: BinaryPrimitives.ReadUInt16LittleEndian(header),
            DeviceId: BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2)),
            ClassCode: BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8)) >> 8,
            Revision: header[8]);
        return new LoadedModule(info.State, info.Reason, info.Personalities, identity);
    }

    /// <summary>Packs Polynic.Sdk and the templates from this run's build, under the run's version, into one folder.</summary>
    private string PackSdkAndTemplate()
    {
        string packages = _temp.Combine("packages");
        foreach (var project in new[] { Repository.SdkProject, Repository.TemplatesProject })
        {
            Step($"pack {Path.GetFileNameWithoutExtension(project)}", () => DotnetCli.Succeed(_temp.Path,
                "pack", project, "--no-build", "-c", Repository.Configuration, "-o", packages,
                $"-p:PackageVersion={_version}", $"-p:NuspecOutputPath={_temp.Combine("nuspec")}/"));
        }

        // The SDK package: the id module projects reference, the assembly, its XML docs and the README.
        using var sdk = ZipFile.OpenRead(Path.Combine(packages, $"Polynic.Sdk.{_version}.nupkg"));
        var entries = sdk.Entries.Select(e => e.FullName).ToArray();
        Assert.Contains("lib/net10.0/Polynic.Core.dll", entries);
        Assert.Contains("lib/net10.0/Polynic.Core.xml", entries);
        Assert.Contains("README.md", entries);
        using var nuspec = sdk.GetEntry("Polynic.Sdk.nuspec")!.Open();
        var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        Assert.Equal("Polynic.Sdk", metadata.Elements().Single(e => e.Name.LocalName == "id").Value);
        return packages;
    }

    private string GlobalPackagesFolder()
    {
        var list = DotnetCli.Succeed(_temp.Path, "nuget", "locals", "global-packages", "--list");
        var match = Regex.Match(list.Output, @"global-packages:\s*(\S.*?)\s*$", RegexOptions.Multiline);
        Assert.True(match.Success, list.ToString());
        return match.Groups[1].Value;
    }

    private T Step<T>(string what, Func<T> action)
    {
        var started = _clock.Elapsed;
        var result = action();
        log.WriteLine($"{what}: {(_clock.Elapsed - started).TotalSeconds:F1} s");
        return result;
    }

    public void Dispose()
    {
        _temp.Dispose();
        if (_globalPackages is null) return;
        // The run's own version only: nothing else in the shared cache is touched.
        string entry = Path.Combine(_globalPackages, "polynic.sdk", _version.ToLowerInvariant());
        try { if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        string id = Path.Combine(_globalPackages, "polynic.sdk");
        try { if (Directory.Exists(id) && !Directory.EnumerateFileSystemEntries(id).Any()) Directory.Delete(id); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
