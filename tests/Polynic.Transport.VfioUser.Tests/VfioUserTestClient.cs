using System.Buffers.Binary;
using System.Text;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>A reply as the test client received it.</summary>
internal sealed record Reply(ushort Id, ushort Command, uint Flags, uint Error, byte[] Payload)
{
    public bool IsError => (Flags & 0x20) != 0;
}

/// <summary>
/// A minimal vfio-user client speaking the wire protocol directly (QEMU's byte layouts),
/// with SCM_RIGHTS, and serving the server's DMA_READ/WRITE requests from a byte array that
/// stands for guest memory reached without a file descriptor.
/// </summary>
internal sealed class VfioUserTestClient : IDisposable
{
    private readonly FileDescriptor _socket;
    private ushort _nextId = 100;

    public VfioUserTestClient(string path) => _socket = UnixSocket.Connect(path);

    /// <summary>Guest memory behind message-based DMA windows: address → bytes.</summary>
    public Dictionary<ulong, byte[]> MessageMemory { get; } = [];

    /// <summary>DMA_READ/WRITE requests the server sent.</summary>
    public int ServerRequests { get; private set; }

    public void Dispose() => _socket.Dispose();

    /// <summary>The connection, for tests that frame messages themselves.</summary>
    public FileDescriptor RawSocket => _socket;

    /// <summary>Sends raw bytes (for malformed-message tests).</summary>
    public void SendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default) => UnixSocket.Send(_socket, bytes, fds);

    /// <summary>Sends a command and returns its reply, serving server requests that arrive first.</summary>
    public Reply Request(Command command, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, uint flags = 0)
    {
        ushort id = _nextId++;
        Send(id, command, payload, fds, flags);
        return WaitReply(id);
    }

    /// <summary>Sends a command without waiting.</summary>
    public ushort Send(Command command, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, uint flags = 0)
    {
        ushort id = _nextId++;
        Send(id, command, payload, fds, flags);
        return id;
    }

    /// <summary>Reads messages until the reply to <paramref name="id"/>; null if the server closed the connection.</summary>
    public Reply WaitReply(ushort id, int timeoutMilliseconds = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMilliseconds;
        while (true)
        {
            var message = Receive((int)Math.Max(1, deadline - Environment.TickCount64))
                ?? throw new IOException("server closed the connection");
            if ((message.Flags & 0xF) == 1)
            {
                if (message.Id == id) return message;
                continue;
            }
            ServeRequest(message);
        }
    }

    /// <summary>True if the server closed the connection within the timeout (only server requests may arrive before).</summary>
    public bool WaitForDisconnect(int timeoutMilliseconds = 5_000)
    {
        var deadline = Environment.TickCount64 + timeoutMilliseconds;
        try
        {
            while (Environment.TickCount64 < deadline)
            {
                var message = Receive((int)Math.Max(1, deadline - Environment.TickCount64));
                if (message is null) return true;
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        return false;
    }

    public Reply Version(string json = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"write_multiple\":true}}")
    {
        var text = Encoding.UTF8.GetBytes(json + "\0");
        var payload = new byte[4 + text.Length];
        text.CopyTo(payload, 4);
        return Request(Command.Version, payload);
    }

    public Reply RegionRead(uint region, ulong offset, uint count)
    {
        var payload = new byte[16];
        new RegionAccess(offset, region, count).Write(payload);
        return Request(Command.RegionRead, payload);
    }

    public Reply RegionWrite(uint region, ulong offset, ReadOnlySpan<byte> data, bool posted = false)
    {
        var payload = new byte[16 + data.Length];
        new RegionAccess(offset, region, (uint)data.Length).Write(payload);
        data.CopyTo(payload.AsSpan(16));
        if (!posted) return Request(Command.RegionWrite, payload);
        Send(Command.RegionWrite, payload, default, (uint)MessageFlags.NoReply);
        return new Reply(0, (ushort)Command.RegionWrite, 1, 0, []);
    }

    public uint ReadConfig32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(RegionRead(7, (ulong)offset, 4).Payload.AsSpan(16));

    public void WriteConfig16(int offset, ushort value)
    {
        var data = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(data, value);
        var reply = RegionWrite(7, (ulong)offset, data);
        if (reply.IsError) throw new InvalidOperationException($"config write failed: {reply.Error}");
    }

    public void WriteBar64(uint bar, ulong offset, ulong value)
    {
        var data = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        var reply = RegionWrite(bar, offset, data);
        if (reply.IsError) throw new InvalidOperationException($"BAR write failed: {reply.Error}");
    }

    public ulong ReadBar64(uint bar, ulong offset) => BinaryPrimitives.ReadUInt64LittleEndian(RegionRead(bar, offset, 8).Payload.AsSpan(16));

    public Reply DmaMap(ulong address, ulong size, int fd = -1, ulong fileOffset = 0, uint flags = 3)
    {
        var payload = new byte[32];
        new DmaMapRequest(32, flags, fileOffset, address, size).Write(payload);
        return fd >= 0 ? Request(Command.DmaMap, payload, [fd]) : Request(Command.DmaMap, payload);
    }

    public Reply DmaUnmap(ulong address, ulong size, uint flags = 0)
    {
        var payload = new byte[24];
        new DmaUnmapRequest(24, flags, address, size).Write(payload);
        return Request(Command.DmaUnmap, payload);
    }

    public Reply SetIrqs(uint index, uint start, uint count, uint flags, ReadOnlySpan<int> fds = default, ReadOnlySpan<byte> data = default)
    {
        var payload = new byte[20 + data.Length];
        new IrqSet((uint)payload.Length, flags, index, start, count).Write(payload);
        data.CopyTo(payload.AsSpan(20));
        return Request(Command.DeviceSetIrqs, payload, fds);
    }

    private void Send(ushort id, Command command, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds, uint flags)
    {
        var message = new byte[16 + payload.Length];
        new MessageHeader(id, command, (uint)message.Length, (MessageFlags)flags, 0).Write(message);
        payload.CopyTo(message.AsSpan(16));
        UnixSocket.Send(_socket, message, fds);
    }

    private Reply? Receive(int timeoutMilliseconds)
    {
        if (!Poll.WaitReadable(_socket, null, timeoutMilliseconds)) throw new TimeoutException("no message from the server");
        var head = new byte[16];
        if (!ReadExactly(head)) return null;
        var header = MessageHeader.Read(head);
        var payload = new byte[header.MessageSize - 16];
        if (!ReadExactly(payload)) return null;
        return new Reply(header.MessageId, (ushort)header.Command, (uint)header.Flags, header.Error, payload);
    }

    private bool ReadExactly(Span<byte> buffer)
    {
        int got = 0, fdCount = 0, dropped = 0;
        Span<int> fds = stackalloc int[8];
        while (got < buffer.Length)
        {
            int n = UnixSocket.Receive(_socket, buffer[got..], fds, ref fdCount, ref dropped);
            if (n == 0) return false;
            got += n;
        }
        foreach (int fd in fds[..fdCount]) LibC.close(fd);
        return true;
    }

    /// <summary>Answers DMA_READ/WRITE in QEMU's layout (hw/vfio-user/pci.c): count u32 at payload 8, data at payload 12.</summary>
    private void ServeRequest(Reply request)
    {
        ServerRequests++;
        ulong address = BinaryPrimitives.ReadUInt64LittleEndian(request.Payload);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(request.Payload.AsSpan(8));
        var (bytes, offset) = Locate(address, count);
        if (request.Command == (ushort)Command.DmaRead)
        {
            var reply = new byte[32 + count];
            new MessageHeader(request.Id, Command.DmaRead, (uint)reply.Length, MessageFlags.Reply, 0).Write(reply);
            request.Payload.AsSpan(0, 12).CopyTo(reply.AsSpan(16));
            bytes.AsSpan(offset, (int)count).CopyTo(reply.AsSpan(28));
            UnixSocket.Send(_socket, reply);
        }
        else
        {
            request.Payload.AsSpan(12, (int)count).CopyTo(bytes.AsSpan(offset));
            var reply = new byte[16];
            new MessageHeader(request.Id, Command.DmaWrite, 16, MessageFlags.Reply, 0).Write(reply);
            UnixSocket.Send(_socket, reply);
        }
    }

    private (byte[] Bytes, int Offset) Locate(ulong address, uint count)
    {
        foreach (var (start, bytes) in MessageMemory)
            if (address >= start && address + count <= start + (ulong)bytes.Length) return (bytes, (int)(address - start));
        throw new InvalidOperationException($"server DMA to 0x{address:x} outside test memory");
    }
}
