using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Management.Control;
using Polynic.Management.Hosting;
using Polynic.Modules;
using Polynic.Ports.Faults;

namespace Polynic.Management.Tests.Control;

/// <summary><c>nics.faults</c>: a running NIC's injected faults replaced over the control protocol (link flaps among them).</summary>
public sealed class NicFaultsTests : IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("polynic-faults-").FullName;
    private ServerHost _host = null!;
    private ManagementService _service = null!;

    public async Task InitializeAsync()
    {
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(_work, "cache") });
        _host = await ServerHost.StartAsync(new PolynicConfiguration("test", null, [new SwitchConfiguration("lan", TimeSpan.FromMinutes(5))], []),
            catalog, NullLoggerFactory.Instance);
        _host.Modules.Load(Path.Combine(AppContext.BaseDirectory, "Polynic.Personalities.E1000.dll"));
        await _host.AddNicAsync(Nic("f", "52:54:00:00:fa:01", new FaultConfiguration(7, 0, 0, 0, false)));
        await _host.AddNicAsync(Nic("plain", "52:54:00:00:fa:02", null));
        _service = new ManagementService(_host);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    private NicConfiguration Nic(string name, string mac, FaultConfiguration? faults) =>
        new(name, "e1000", Path.Combine(_work, name + ".sock"), MacAddress.Parse(mac), [], new SwitchPortConfiguration("lan", 1, null), faults, 0);

    private Task<ControlResponse> FaultsAsync(string name, string spec) =>
        _service.ExecuteAsync(new ControlRequest(ControlCommands.NicsFaults, Name: name, Spec: spec));

    [Fact]
    public async Task Link_down_and_up_reach_the_nic_and_faults_apply_to_the_chosen_direction()
    {
        var nic = _host.Functions.Single(f => f.Name == "f");
        var port = Assert.IsType<FaultInjectionPort>(nic.Port);
        Assert.True(nic.Nic!.PortLinkUp);

        Assert.True((await FaultsAsync("f", "linkDown=true")).Ok);
        Assert.False(nic.Nic.PortLinkUp);
        Assert.True((await FaultsAsync("f", "none")).Ok);
        Assert.True(nic.Nic.PortLinkUp);

        Assert.True((await FaultsAsync("f", "corrupt=0.01,delayMs=3,direction=in")).Ok);
        Assert.Equal(0.01, port.Settings.Inbound.CorruptProbability);
        Assert.Equal(TimeSpan.FromMilliseconds(3), port.Settings.Inbound.Delay);
        Assert.Equal(DirectionFaults.None, port.Settings.Outbound);
    }

    [Fact]
    public async Task Unknown_faults_bad_values_and_nics_without_fault_injection_are_refused_with_the_reason()
    {
        Assert.Contains("unknown fault 'loss'", (await FaultsAsync("f", "loss=0.1")).Error);
        Assert.Contains("not a probability", (await FaultsAsync("f", "drop=2")).Error);
        Assert.Contains("no fault injection", (await FaultsAsync("plain", "linkDown=true")).Error);
        Assert.Contains("no NIC named 'zzz'", (await FaultsAsync("zzz", "none")).Error);
        Assert.Equal(FaultSettings.None, Assert.IsType<FaultInjectionPort>(_host.Functions.Single(f => f.Name == "f").Port).Settings);
    }

    [Fact]
    public async Task Nics_link_pulls_the_cable_of_a_nic_without_fault_injection_and_plugs_it_back()
    {
        var nic = _host.Functions.Single(f => f.Name == "plain").Nic!;
        Assert.True(nic.PortLinkUp);

        var down = await _service.ExecuteAsync(new ControlRequest(ControlCommands.NicsLink, Name: "plain", Spec: "down"));
        Assert.True(down.Ok, down.Error);
        Assert.False(nic.PortLinkUp);
        Assert.False(nic.CableConnected);
        Assert.True(nic.PortCarrier);
        Assert.False(down.Result!["link"]!["up"]!.GetValue<bool>());

        var detail = await _service.ExecuteAsync(new ControlRequest(ControlCommands.NicsDetail, Name: "plain"));
        Assert.True(detail.Ok, detail.Error);
        Assert.False(detail.Result!["link"]!["cable"]!.GetValue<bool>());

        Assert.True((await _service.ExecuteAsync(new ControlRequest(ControlCommands.NicsLink, Name: "plain", Spec: "UP"))).Ok);
        Assert.True(nic.PortLinkUp);

        var sideways = await _service.ExecuteAsync(new ControlRequest(ControlCommands.NicsLink, Name: "plain", Spec: "sideways"));
        Assert.False(sideways.Ok);
        Assert.Equal(ManagementError.Invalid, sideways.Kind);
        Assert.Contains("up or down", sideways.Error);
        var unknown = await _service.ExecuteAsync(new ControlRequest(ControlCommands.NicsLink, Name: "nope", Spec: "down"));
        Assert.Equal(ManagementError.NotFound, unknown.Kind);
        Assert.True(nic.PortLinkUp);
    }
}
