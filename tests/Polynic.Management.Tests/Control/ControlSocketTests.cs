using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Management.Configuration;
using Polynic.Management.Control;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Management.Tests.Control;

/// <summary>
/// A running server managed through its control socket: modules and NICs changed at run time,
/// a module's code collected once its NICs are gone, and hostile clients that cost nothing.
/// </summary>
public sealed class ControlSocketTests : IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("polynic-control-").FullName;
    private ServerHost _host = null!;
    private ControlServer _server = null!;

    private string Socket => Path.Combine(_work, "control.sock");

    private static string ModuleFile(string name) => Path.Combine(AppContext.BaseDirectory, $"Polynic.Personalities.{name}.dll");

    public async Task InitializeAsync()
    {
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(_work, "cache") });
        _host = await ServerHost.StartAsync(new PolynicConfiguration("test", null, [], []), catalog, NullLoggerFactory.Instance);
        _server = new ControlServer(_host, Socket, NullLoggerFactory.Instance) { IdleTimeout = TimeSpan.FromSeconds(1) };
        _server.Start();
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
    public async Task A_module_loaded_over_the_socket_serves_a_nic_and_is_collected_after_the_nic_is_removed_and_it_is_unloaded()
    {
        var weak = await ServeAndUnloadAsync();
        for (int i = 0; i < 20 && weak.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(weak.IsAlive, "the e1000 module's load context survived unloading");
        Assert.False(File.Exists(Path.Combine(_work, "nic0.sock")));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<WeakReference> ServeAndUnloadAsync()
    {
        var load = await SendAsync(ControlCommands.ModulesLoad, path: ModuleFile("E1000"));
        Assert.True(load.Ok, load.Error);
        var add = await SendAsync(ControlCommands.NicsAdd, spec: $"e1000:{Path.Combine(_work, "nic0.sock")},name=nic0");
        Assert.True(add.Ok, add.Error);
        Assert.True(File.Exists(Path.Combine(_work, "nic0.sock")));
        Assert.Equal("Polynic.Personalities.E1000", Assert.Single(_host.Functions).Module);

        var refused = await SendAsync(ControlCommands.ModulesUnload, name: "Polynic.Personalities.E1000");
        Assert.False(refused.Ok);
        Assert.Contains("still provides NIC(s) nic0", refused.Error);

        Assert.True((await SendAsync(ControlCommands.NicsRemove, name: "nic0")).Ok);
        Assert.Empty(_host.Functions);
        // The server's own unload path (the socket's answer has no handle on the context).
        return await _host.UnloadModuleAsync("Polynic.Personalities.E1000");
    }

    [Fact]
    public async Task Nics_with_a_taken_name_socket_or_mac_and_unknown_personalities_are_refused_with_the_reason()
    {
        Assert.True((await SendAsync(ControlCommands.ModulesLoad, path: ModuleFile("E1000"))).Ok);
        string a = Path.Combine(_work, "a.sock");
        Assert.True((await SendAsync(ControlCommands.NicsAdd, spec: $"e1000:{a},name=a,mac=52:54:00:00:aa:01")).Ok);

        Assert.Contains("NIC 'a' is already served", (await SendAsync(ControlCommands.NicsAdd, spec: $"e1000:{Path.Combine(_work, "b.sock")},name=a")).Error);
        Assert.Contains($"socket {a} is already used by NIC 'a'", (await SendAsync(ControlCommands.NicsAdd, spec: $"e1000:{a},name=b")).Error);
        Assert.Contains("MAC 52:54:00:00:aa:01 is already used", (await SendAsync(ControlCommands.NicsAdd, spec: $"e1000:{Path.Combine(_work, "c.sock")},name=c,mac=52:54:00:00:aa:01")).Error);
        Assert.Contains("no loaded module provides personality 'rtl8139'", (await SendAsync(ControlCommands.NicsAdd, spec: $"rtl8139:{Path.Combine(_work, "d.sock")}")).Error);
        Assert.Contains("unknown option 'speed'", (await SendAsync(ControlCommands.NicsAdd, spec: $"e1000:{Path.Combine(_work, "e.sock")},speed=10")).Error);
        Assert.Contains("must be absolute", (await SendAsync(ControlCommands.NicsAdd, spec: "e1000:relative.sock")).Error);
        Assert.Contains("must be absolute", (await SendAsync(ControlCommands.ModulesLoad, path: "modules/x.dll")).Error);
        Assert.Contains("no NIC named 'zzz'", (await SendAsync(ControlCommands.NicsRemove, name: "zzz")).Error);
        Assert.Contains("no module named 'zzz'", (await SendAsync(ControlCommands.ModulesUnload, name: "zzz")).Error);
        Assert.Contains("unknown command 'reboot'", (await SendAsync("reboot")).Error);

        var nics = (await SendAsync(ControlCommands.NicsList)).Result!.AsArray();
        Assert.Equal("a", Assert.Single(nics)!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Garbage_oversized_and_abandoned_requests_get_an_error_or_nothing_and_the_socket_keeps_answering()
    {
        using (var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            raw.Connect(new UnixDomainSocketEndPoint(Socket));
            using var stream = new NetworkStream(raw);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            foreach (var garbage in new[] { "not json", "[1,2,3]", "{\"command\":42}", "{}", "{\"command\":\"nics.add\"}" })
            {
                stream.Write(Encoding.UTF8.GetBytes(garbage + "\n"));
                var answer = JsonSerializer.Deserialize<ControlResponse>(reader.ReadLine()!, ControlJson.Options)!;
                Assert.False(answer.Ok);
                Assert.False(string.IsNullOrEmpty(answer.Error));
            }
            stream.Write(new byte[ControlJson.MaxRequestBytes + 10]);
            var tooLong = JsonSerializer.Deserialize<ControlResponse>(reader.ReadLine()!, ControlJson.Options)!;
            Assert.Contains("longer than", tooLong.Error);
        }

        // As many clients as the server serves at once connect and never speak: they are dropped
        // after the idle timeout, and the next request gets through.
        var idle = Enumerable.Range(0, ControlServer.MaxClients).Select(_ =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(Socket));
            return s;
        }).ToList();
        try
        {
            var list = await SendAsync(ControlCommands.ModulesList);
            Assert.True(list.Ok);
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
        Assert.True((await SendAsync(ControlCommands.PersonalitiesList)).Ok);
    }

    [Fact]
    public async Task A_second_server_on_a_live_control_socket_is_refused_and_a_stale_one_is_replaced()
    {
        var second = new ControlServer(_host, Socket, NullLoggerFactory.Instance);
        var e = Assert.Throws<IOException>(second.Start);
        Assert.Contains("in use by another running server", e.Message);

        string stale = Path.Combine(_work, "stale.sock");
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(stale)); // bound, never listening, then closed: a leftover file
        await using var third = new ControlServer(_host, stale, NullLoggerFactory.Instance);
        third.Start();
        Assert.True((await ControlClient.SendAsync(stale, new ControlRequest(ControlCommands.NicsList))).Ok);
    }
}
