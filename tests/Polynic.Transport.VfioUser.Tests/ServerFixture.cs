using Polynic.Core.Pci;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>A started server for a <see cref="TestNic"/> on a socket in a fresh temporary directory.</summary>
internal sealed class ServerFixture : IAsyncDisposable
{
    private readonly string _directory;

    private ServerFixture(string directory, TestNic device, PciFunction function, VfioUserServer server)
    {
        _directory = directory;
        Device = device;
        Function = function;
        Server = server;
    }

    public TestNic Device { get; }
    public PciFunction Function { get; }
    public VfioUserServer Server { get; }
    public string SocketPath => Server.SocketPath;

    public static async Task<ServerFixture> StartAsync(VfioUserServerOptions? options = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"polynic-vfu-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(directory);
        var device = new TestNic();
        var function = new PciFunction(device, "test0");
        var server = new VfioUserServer(function, Path.Combine(directory, "dev.sock"), options, loggerFactory);
        await server.StartAsync();
        return new ServerFixture(directory, device, function, server);
    }

    /// <summary>A connected client that has negotiated the version.</summary>
    public VfioUserTestClient Connect()
    {
        var client = new VfioUserTestClient(SocketPath);
        var reply = client.Version();
        Assert.False(reply.IsError, $"VERSION failed with errno {reply.Error}");
        return client;
    }

    /// <summary>Waits until the server has noticed the previous client left.</summary>
    public void WaitForIdle()
    {
        var deadline = Environment.TickCount64 + 5000;
        while (Server.IsClientConnected && Environment.TickCount64 < deadline) Thread.Sleep(5);
        Assert.False(Server.IsClientConnected, "server still holds the previous client");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>memfd guest memory shared with the server, mapped here too so tests can look at it.</summary>
internal sealed unsafe class GuestRam : IDisposable
{
    private readonly SharedMapping _mapping;

    private const uint MfdAllowSealing = 2;
    private const int FAddSeals = 1033, FSealShrink = 2, FSealGrow = 4;

    /// <param name="size">Bytes of guest RAM.</param>
    /// <param name="sealSize">Seal the size as QEMU's memory-backend-memfd does by default (seal=on).</param>
    public GuestRam(int size, bool sealSize = true)
    {
        Fd = new FileDescriptor(LibC.memfd_create("guest-ram", LibC.MFD_CLOEXEC | MfdAllowSealing));
        FileDescriptor.Check(Fd.Number, "memfd_create");
        FileDescriptor.Check(LibC.ftruncate(Fd, size), "ftruncate");
        if (sealSize) FileDescriptor.Check(LibC.fcntl(Fd, FAddSeals, FSealShrink | FSealGrow), "F_ADD_SEALS");
        Assert.Equal(0, SharedMapping.TryMap(Fd, 0, (ulong)size, true, out var mapping));
        _mapping = mapping!;
        Size = size;
    }

    public FileDescriptor Fd { get; }
    public int Size { get; }
    public Span<byte> Bytes => new(_mapping.Start, Size);

    public void Dispose()
    {
        _mapping.Dispose();
        Fd.Dispose();
    }
}
