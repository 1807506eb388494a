using Polynic.Core.Nic;
using Polynic.Core.Pci;

using Polynic.Ports.Tap;
using Polynic.Rig.Guests;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.GuestBenchmarks;

/// <summary>QEMU's own NIC model on a tap backend, in userspace (vhost off).</summary>
internal sealed class QemuBuiltIn(string model, string driver) : IGuestNic
{
    private static int s_counter;

    public string Name => $"QEMU built-in {model}";

    public string Driver => driver;

    public Task<(GuestOptions, string, IAsyncDisposable)> PrepareAsync(GuestOptions baseOptions)
    {
        var tap = $"pqb{Interlocked.Increment(ref s_counter)}";
        var options = baseOptions with
        {
            ExtraQemuArguments =
            [
                "-netdev", $"tap,id=n0,ifname={tap},script=no,downscript=no,vhost=off",
                "-device", $"{model},netdev=n0,mac=52:54:00:be:00:01",
            ],
        };
        return Task.FromResult<(GuestOptions, string, IAsyncDisposable)>((options, tap, new Nothing()));
    }

    private sealed class Nothing : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// A Polynic personality served over vfio-user by the benchmark's own process, on a tap port with
/// the virtio-net header (<c>--embedded</c>): beside <see cref="ServedNic"/>, it shows whether the
/// served process costs anything, and it prints the device's own counters after each round.
/// </summary>
internal sealed class PolynicNic(string name, string driver, Func<NicSettings, NicDevice> create) : IGuestNic
{
    public string Name => $"Polynic {name} (embedded)";

    public string Driver => driver;

    public async Task<(GuestOptions, string, IAsyncDisposable)> PrepareAsync(GuestOptions baseOptions)
    {
        var directory = Directory.CreateTempSubdirectory("polynic-bench-");
        var device = create(new NicSettings(MacAddress.Parse("52:54:00:be:00:02")));
        var port = TapPort.Open(new TapPortOptions { InterfaceName = "ppb%d", VnetHeader = true });
        device.AttachPort(port);
        var server = new VfioUserServer(new PciFunction(device, "bench0"), Path.Combine(directory.FullName, "bench0.sock"));
        await server.StartAsync();
        var options = baseOptions with { VfioUserSockets = [server.SocketPath] };
        return (options, port.InterfaceName, new Served(server, port, directory));
    }

    private sealed class Served(VfioUserServer server, TapPort port, DirectoryInfo directory) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            // Where frames were lost, if anywhere: the device's own counters after the round.
            var counters = ((NicDevice)server.Function.Device).Counters.Snapshot().Where(c => c.Value != 0);
            Console.WriteLine("  Polynic NIC counters: " + string.Join(", ", counters.Select(c => $"{c.Key}={c.Value}")));
            if (server.Function.Device is Polynic.Personalities.VirtioNet.VirtioNetDevice virtio)
                Console.WriteLine("  Polynic queues (kicks/interrupts): " + string.Join(", ",
                    virtio.Transport.Queues.Select(q => $"{q.Index}:{q.Notifications}/{q.Interrupts}")));
            await server.DisposeAsync();
            (server.Function.Device as IDisposable)?.Dispose();
            port.Dispose();
            directory.Delete(recursive: true);
        }
    }
}
