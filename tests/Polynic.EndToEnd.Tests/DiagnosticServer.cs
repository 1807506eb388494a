using Polynic.Core.Pci;
using Polynic.Personalities.Diagnostic;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.EndToEnd.Tests;

/// <summary>A Polynic diagnostic function served on a fresh vfio-user socket in this process.</summary>
public sealed class DiagnosticServer : IAsyncDisposable
{
    private readonly DirectoryInfo _directory;

    private DiagnosticServer(DirectoryInfo directory, DiagnosticDevice device, VfioUserServer server)
    {
        _directory = directory;
        Device = device;
        Server = server;
    }

    public DiagnosticDevice Device { get; }
    public VfioUserServer Server { get; }
    public PciFunction Function => Server.Function;
    public string SocketPath => Server.SocketPath;

    public static async Task<DiagnosticServer> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("polynic-e2e-");
        var device = new DiagnosticDevice();
        var server = new VfioUserServer(new PciFunction(device, "diag0"), Path.Combine(directory.FullName, "diag0.sock"));
        await server.StartAsync();
        return new DiagnosticServer(directory, device, server);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _directory.Delete(recursive: true);
    }
}
