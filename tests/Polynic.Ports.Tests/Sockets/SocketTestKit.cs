using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Polynic.Ports.Sockets;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Sockets;

/// <summary>Frames with a sequence number, raw QEMU-framing peers, temp directories: loopback and unix sockets only.</summary>
internal static class SocketTestKit
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private static readonly byte[] Source = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

    /// <summary>A frame of <paramref name="length"/> bytes: broadcast, a local MAC, EtherType 0x88B5, the sequence number, then a pattern.</summary>
    public static byte[] Frame(int length, int sequence)
    {
        var frame = new byte[length];
        Frames.Broadcast.CopyTo(frame, 0);
        Source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5); // IEEE 802 local experimental
        if (length >= 18) BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), sequence);
        for (int i = 18; i < length; i++) frame[i] = (byte)(i * 7 + sequence);
        return frame;
    }

    public static int Sequence(byte[] frame) => BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(14));

    /// <summary>The bytes QEMU puts on a stream socket for <paramref name="frame"/> (net/stream_data.c).</summary>
    public static byte[] Framed(byte[] frame)
    {
        var bytes = new byte[4 + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)frame.Length);
        frame.CopyTo(bytes, 4);
        return bytes;
    }

    public static Socket ConnectRaw(EndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream,
            endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        socket.Connect(endPoint);
        socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        return socket;
    }

    public static Socket ListenRaw(EndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream,
            endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        socket.Bind(endPoint);
        socket.Listen(4);
        return socket;
    }

    public static Socket AcceptRaw(Socket listener)
    {
        var accept = listener.AcceptAsync();
        Assert.True(accept.Wait(Timeout), "nobody connected to the raw listener");
        var socket = accept.Result;
        socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        return socket;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (the socket's receive timeout applies).</summary>
    public static byte[] ReadExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        int done = 0;
        while (done < count)
        {
            int read = socket.Receive(buffer, done, count - done, SocketFlags.None);
            if (read == 0) throw new EndOfStreamException($"peer closed after {done} of {count} bytes");
            done += read;
        }
        return buffer;
    }

    /// <summary>Reads one QEMU-framed frame from a raw socket.</summary>
    public static byte[] ReadFramed(Socket socket)
    {
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(ReadExactly(socket, 4));
        return ReadExactly(socket, length);
    }

    /// <summary>True once the raw socket sees end of stream or a reset (the port dropped it).</summary>
    public static bool SeesClosed(Socket socket)
    {
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + Timeout;
        try
        {
            while (DateTime.UtcNow < deadline)
                if (socket.Receive(buffer) == 0) return true;
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return true;
        }
        return false;
    }

    public static bool WaitUntil(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    /// <summary>A server StreamPort on 127.0.0.1 (kernel-chosen port), started with <paramref name="receiver"/>.</summary>
    public static StreamPort StartServer(Polynic.Core.Nic.IPortReceiver receiver, EndPoint? address = null, ListLogger? logger = null)
    {
        var port = StreamPort.Open(new StreamPortOptions { Address = address ?? new IPEndPoint(IPAddress.Loopback, 0), Server = true }, logger);
        port.Start(receiver);
        return port;
    }

    /// <summary>
    /// Binds a unix socket at <paramref name="path"/> and closes it without removing the file, as a
    /// crashed process leaves it (.NET's own Socket unlinks the path when disposed, so raw calls).
    /// </summary>
    public static unsafe void LeaveStaleUnixSocket(string path)
    {
        int fd = Polynic.Native.LibC.socket(Polynic.Native.LibC.AF_UNIX, Polynic.Native.LibC.SOCK_STREAM, 0);
        Assert.True(fd >= 0);
        using var descriptor = new Polynic.Native.FileDescriptor(fd);
        var address = new byte[110];
        address[0] = 1; // AF_UNIX, little-endian sa_family_t
        System.Text.Encoding.UTF8.GetBytes(path).CopyTo(address, 2);
        fixed (byte* pointer = address)
            Assert.Equal(0, Polynic.Native.LibC.bind(descriptor, pointer, (uint)address.Length));
    }

    /// <summary>A UDP port number free on 127.0.0.1 right now (bind, read, close).</summary>
    public static int FreeUdpPort(IPAddress? address = null)
    {
        using var probe = new Socket((address ?? IPAddress.Loopback).AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}

/// <summary>A temporary directory for unix socket paths, removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("polynic-sockets-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
