using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Pci;
using Polynic.Management.Configuration;
using Polynic.Management.Control;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Management.Tests.Control;

/// <summary>
/// A card served with MSI-X cannot be hot-unplugged from QEMU 10.2-11.1 without killing the VM;
/// <c>msix=off</c> serves it without the capability. The control plane says which cards are which
/// where the user decides: when a NIC is added, listed, and removed while a VMM still holds it.
/// </summary>
public sealed class HotUnplugWarningTests : IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("polynic-unplug-").FullName;
    private ServerHost _host = null!;
    private ControlServer _server = null!;

    private string Socket => Path.Combine(_work, "control.sock");

    public async Task InitializeAsync()
    {
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(_work, "cache") });
        _host = await ServerHost.StartAsync(new PolynicConfiguration("test", null, [], []), catalog, NullLoggerFactory.Instance);
        _server = new ControlServer(_host, Socket, NullLoggerFactory.Instance);
        _server.Start();
        var load = await SendAsync(ControlCommands.ModulesLoad, path: Path.Combine(AppContext.BaseDirectory, "Polynic.Personalities.Diagnostic.dll"));
        Assert.True(load.Ok, load.Error);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _host.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    private Task<ControlResponse> SendAsync(string command, string? path = null, string? name = null, string? spec = null) =>
        ControlClient.SendAsync(Socket, new ControlRequest(command, path, name, spec));

    [Fact]
    public async Task Adding_a_card_with_msix_warns_and_msix_off_serves_it_with_msi_and_intx_only()
    {
        var with = await SendAsync(ControlCommands.NicsAdd, spec: $"diagnostic:{Path.Combine(_work, "a.sock")},name=a");
        Assert.True(with.Ok, with.Error);
        Assert.Contains("device_del", with.Warning);
        Assert.Contains("msix=off", with.Warning);
        Assert.True(with.Result!["msix"]!.GetValue<bool>());

        var without = await SendAsync(ControlCommands.NicsAdd, spec: $"diagnostic:{Path.Combine(_work, "b.sock")},name=b,msix=off");
        Assert.True(without.Ok, without.Error);
        Assert.Null(without.Warning);
        Assert.False(without.Result!["msix"]!.GetValue<bool>());

        // What the guest will find: the same function minus the MSI-X capability; MSI stays.
        var b = _host.Functions.Single(f => f.Name == "b").Function;
        Assert.Null(b.Definition.Msix);
        Assert.NotNull(b.Definition.Msi);
        Assert.Equal(_host.Functions.Single(f => f.Name == "a").Function.Definition.Bars, b.Definition.Bars);
        Assert.DoesNotContain(CapabilityIds(b), id => id == 0x11);
        Assert.Contains(CapabilityIds(b), id => id == 0x05);

        var list = JsonDocument.Parse((await SendAsync(ControlCommands.NicsList)).Result!.ToJsonString()).RootElement.EnumerateArray()
            .ToDictionary(n => n.GetProperty("name").GetString()!);
        Assert.True(list["a"].GetProperty("msix").GetBoolean());
        Assert.Contains("device_del", list["a"].GetProperty("hotUnplug").GetString());
        Assert.False(list["b"].GetProperty("msix").GetBoolean());
        Assert.False(list["b"].TryGetProperty("hotUnplug", out _)); // nothing to warn about

        Assert.Contains("msix=maybe", (await SendAsync(ControlCommands.NicsAdd, spec: $"diagnostic:{Path.Combine(_work, "c.sock")},name=c,msix=maybe")).Error);
    }

    [Fact]
    public async Task Removing_a_card_with_msix_while_a_vmm_holds_it_warns_and_without_a_vmm_or_msix_does_not()
    {
        foreach (var spec in new[] { "name=held", "name=free", "name=plain,msix=off" })
        {
            var name = spec.Split(',')[0][5..];
            Assert.True((await SendAsync(ControlCommands.NicsAdd, spec: $"diagnostic:{Path.Combine(_work, name + ".sock")},{spec}")).Ok);
        }
        using var vmm = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        vmm.Connect(new UnixDomainSocketEndPoint(Path.Combine(_work, "held.sock")));
        using var vmm2 = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        vmm2.Connect(new UnixDomainSocketEndPoint(Path.Combine(_work, "plain.sock")));
        for (int i = 0; i < 100 && !_host.Functions.Where(f => f.Name is "held" or "plain").All(f => f.Server.IsClientConnected); i++) await Task.Delay(20);

        var held = await SendAsync(ControlCommands.NicsRemove, name: "held");
        Assert.True(held.Ok, held.Error);
        Assert.Contains("aborts QEMU", held.Warning);
        var free = await SendAsync(ControlCommands.NicsRemove, name: "free");
        Assert.True(free.Ok, free.Error);
        Assert.Null(free.Warning);
        var plain = await SendAsync(ControlCommands.NicsRemove, name: "plain");
        Assert.True(plain.Ok, plain.Error);
        Assert.Null(plain.Warning);
        Assert.Empty(_host.Functions);
    }

    private static List<byte> CapabilityIds(PciFunction function)
    {
        var config = new byte[PciFunction.ConfigSpaceSize];
        function.ReadConfig(0, config);
        var ids = new List<byte>();
        for (int next = config[0x34], hops = 0; next != 0 && hops < 48; next = config[next + 1], hops++) ids.Add(config[next]);
        return ids;
    }
}
