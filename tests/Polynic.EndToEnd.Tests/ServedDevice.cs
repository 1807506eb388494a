using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Ports.Tap;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.EndToEnd.Tests;

/// <summary>
/// A Polynic device served on a fresh vfio-user socket in this test process, with its tap
/// port when it is a NIC. Disposing stops the server, closes the port (removing the tap) and
/// deletes the socket directory.
/// </summary>
public sealed class ServedDevice<TDevice> : IAsyncDisposable where TDevice : IPciDevice
{
    private readonly DirectoryInfo _directory;

    private ServedDevice(DirectoryInfo directory, TDevice device, VfioUserServer server, TapPort? port)
    {
        _directory = directory;
        Device = device;
        Server = server;
        Port = port;
    }

    public TDevice Device { get; }
    public VfioUserServer Server { get; }
    public TapPort? Port { get; }
    public PciFunction Function => Server.Function;
    public string SocketPath => Server.SocketPath;

    /// <param name="offerMsix">False serves the function without its MSI-X capability (as <c>msix=off</c>): the driver falls back to MSI.</param>
    public static async Task<ServedDevice<TDevice>> StartAsync(TDevice device, string name, TapPortOptions? tap = null, bool offerMsix = true)
    {
        var directory = Directory.CreateTempSubdirectory("polynic-e2e-");
        TapPort? port = null;
        try
        {
            if (tap is not null)
            {
                port = TapPort.Open(tap);
                ((NicDevice)(object)device).AttachPort(port);
            }
            var server = new VfioUserServer(new PciFunction(device, name, offerMsix: offerMsix), Path.Combine(directory.FullName, name + ".sock"));
            await server.StartAsync();
            return new ServedDevice<TDevice>(directory, device, server, port);
        }
        catch
        {
            port?.Dispose();
            directory.Delete(recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        // A device with threads of its own (virtio-net's queue worker) stops them here.
        (Device as IDisposable)?.Dispose();
        Port?.Dispose();
        _directory.Delete(recursive: true);
    }
}
