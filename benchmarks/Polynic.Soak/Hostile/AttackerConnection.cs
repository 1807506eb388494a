using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Polynic.Native;

namespace Polynic.Soak.Hostile;

/// <summary>How the attacker answers the server's DMA_READ/DMA_WRITE requests.</summary>
internal enum DmaAnswer
{
    /// <summary>At once, from <see cref="AttackerConnection.Memory"/>.</summary>
    Promptly,
    /// <summary>After <see cref="AttackerConnection.SlowDelay"/>.</summary>
    Slowly,
    /// <summary>Never: the request is read and forgotten.</summary>
    Never,
}

/// <summary>A reply as the attacker received it.</summary>
internal sealed record WireReply(ushort Command, uint Flags, uint Error, byte[] Payload)
{
    public bool IsError => (Flags & WireMessage.FlagError) != 0;
}

/// <summary>
/// One vfio-user connection the attacker controls: raw sends (with descriptors by SCM_RIGHTS),
/// a reader thread that matches replies to requests and answers the server's DMA requests as
/// <see cref="Answer"/> says, and end-of-connection detection.
/// </summary>
internal sealed partial class AttackerConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly ConcurrentDictionary<ushort, TaskCompletionSource<WireReply>> _pending = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _sendGate = new();
    private readonly Thread _reader;
    private int _nextId = 1;

    private AttackerConnection(Socket socket)
    {
        _socket = socket;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "soak attacker reader" };
        _reader.Start();
    }

    /// <summary>Guest memory behind message-based DMA windows: window address → bytes.</summary>
    public ConcurrentDictionary<ulong, byte[]> Memory { get; } = new();

    public DmaAnswer Answer { get; set; }

    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>DMA_READ/WRITE requests the server sent.</summary>
    public int ServerRequests => _serverRequests;

    private int _serverRequests;

    /// <summary>Completes when the server closed the connection (or it failed).</summary>
    public Task Closed => _closed.Task;

    public static AttackerConnection Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new AttackerConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends raw bytes, with <paramref name="fds"/> attached to the first byte.</summary>
    public unsafe void SendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default)
    {
        lock (_sendGate)
        {
            if (fds.IsEmpty)
            {
                _socket.Send(bytes);
                return;
            }
            int controlLength = LibC.CmsgSpace(fds.Length);
            byte* control = stackalloc byte[controlLength];
            new Span<byte>(control, controlLength).Clear();
            *(nuint*)control = (nuint)(LibC.CmsgHeaderSize + fds.Length * sizeof(int));
            *(int*)(control + 8) = LibC.SOL_SOCKET;
            *(int*)(control + 12) = LibC.SCM_RIGHTS;
            fds.CopyTo(new Span<int>(control + LibC.CmsgHeaderSize, fds.Length));
            fixed (byte* data = bytes)
            {
                var iov = new LibC.IoVec { Base = data, Length = (nuint)bytes.Length };
                var message = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
                nint sent = sendmsg((int)_socket.Handle, &message, LibC.MSG_NOSIGNAL);
                if (sent < 0) throw new IOException($"sendmsg failed: errno {Marshal.GetLastPInvokeError()}");
                if (sent < bytes.Length) _socket.Send(bytes[(int)sent..]);
            }
        }
    }

    /// <summary>Sends a command and waits for its reply; null when none came within <paramref name="timeout"/> or the connection closed.</summary>
    public async Task<WireReply?> RequestAsync(ushort command, byte[] payload, TimeSpan timeout, int[]? fds = null)
    {
        ushort id = NextId();
        var reply = new TaskCompletionSource<WireReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            SendRaw(WireMessage.Build(id, command, payload), fds);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            _pending.TryRemove(id, out _);
            return null;
        }
        var first = await Task.WhenAny(reply.Task, _closed.Task, Task.Delay(timeout));
        _pending.TryRemove(id, out _);
        return first == reply.Task ? reply.Task.Result : null;
    }

    /// <summary>Sends a command without waiting for anything.</summary>
    public bool Post(ushort command, byte[] payload, uint flags = 0)
    {
        try
        {
            SendRaw(WireMessage.Build(NextId(), command, payload, flags));
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Ids this connection gives its own commands: 1..0xEFFF, so hand-made messages can take ids above without colliding.</summary>
    private ushort NextId() => (ushort)(1 + Interlocked.Increment(ref _nextId) % 0xEFFF);

    public Task<WireReply?> VersionAsync(TimeSpan timeout) => RequestAsync(WireMessage.Version, WireMessage.VersionPayload(), timeout);

    public async Task<uint?> ReadConfig32Async(int offset, TimeSpan timeout)
    {
        var reply = await RequestAsync(WireMessage.RegionRead, WireMessage.RegionAccess(WireMessage.ConfigRegion, (ulong)offset, 4), timeout);
        return reply is { IsError: false, Payload.Length: >= 20 } ? BinaryPrimitives.ReadUInt32LittleEndian(reply.Payload.AsSpan(16)) : null;
    }

    public async Task<uint?> ReadRegister32Async(uint bar, ulong offset, TimeSpan timeout)
    {
        var reply = await RequestAsync(WireMessage.RegionRead, WireMessage.RegionAccess(bar, offset, 4), timeout);
        return reply is { IsError: false, Payload.Length: >= 20 } ? BinaryPrimitives.ReadUInt32LittleEndian(reply.Payload.AsSpan(16)) : null;
    }

    public async Task<bool> WriteAsync(uint region, ulong offset, uint value, TimeSpan timeout, int width = 4)
    {
        var data = new byte[width];
        if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(data, (ushort)value);
        else BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        var reply = await RequestAsync(WireMessage.RegionWrite, WireMessage.RegionAccess(region, offset, (uint)width, data), timeout);
        return reply is { IsError: false };
    }

    /// <summary>True when the server closes the connection within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan timeout) => await Task.WhenAny(_closed.Task, Task.Delay(timeout)) == _closed.Task;

    public void Dispose()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _socket.Dispose();
        _reader.Join(TimeSpan.FromSeconds(5));
    }

    private void ReadLoop()
    {
        var header = new byte[WireMessage.HeaderSize];
        try
        {
            while (ReadExactly(header))
            {
                ushort id = BinaryPrimitives.ReadUInt16LittleEndian(header);
                ushort command = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2));
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
                uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
                uint error = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12));
                if (size < WireMessage.HeaderSize || size > 16 * 1024 * 1024) break;
                var payload = new byte[size - WireMessage.HeaderSize];
                if (!ReadExactly(payload)) break;
                if ((flags & 0xF) == WireMessage.TypeReply)
                {
                    if (_pending.TryRemove(id, out var waiter)) waiter.TrySetResult(new WireReply(command, flags, error, payload));
                }
                else if (command is WireMessage.DmaRead or WireMessage.DmaWrite)
                {
                    Interlocked.Increment(ref _serverRequests);
                    ServeDma(id, command, payload);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
        }
        _closed.TrySetResult();
    }

    // QEMU's layout (hw/vfio-user): offset u64 and count u32 at the payload's start, data at 12.
    private void ServeDma(ushort id, ushort command, byte[] request)
    {
        if (Answer == DmaAnswer.Never || request.Length < 12) return;
        ulong address = BinaryPrimitives.ReadUInt64LittleEndian(request);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(8));
        byte[] reply;
        if (command == WireMessage.DmaRead)
        {
            reply = new byte[32 + count];
            WireMessage.WriteHeader(reply, id, command, (uint)reply.Length, WireMessage.TypeReply, 0);
            request.AsSpan(0, 12).CopyTo(reply.AsSpan(16));
            if (Locate(address, count) is var (bytes, offset) && bytes is not null) bytes.AsSpan(offset, (int)count).CopyTo(reply.AsSpan(28));
        }
        else
        {
            if (Locate(address, count) is var (bytes, offset) && bytes is not null && request.Length >= 12 + count)
                request.AsSpan(12, (int)count).CopyTo(bytes.AsSpan(offset));
            reply = new byte[16];
            WireMessage.WriteHeader(reply, id, command, 16, WireMessage.TypeReply, 0);
        }
        if (Answer == DmaAnswer.Slowly)
        {
            _ = Task.Delay(SlowDelay).ContinueWith(_ => TrySend(reply), TaskScheduler.Default);
            return;
        }
        TrySend(reply);
    }

    private void TrySend(byte[] bytes)
    {
        try { SendRaw(bytes); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    private (byte[]? Bytes, int Offset) Locate(ulong address, uint count)
    {
        foreach (var (start, bytes) in Memory)
            if (address >= start && address + count <= start + (ulong)bytes.Length) return (bytes, (int)(address - start));
        return (null, 0);
    }

    private bool ReadExactly(Span<byte> buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = _socket.Receive(buffer[got..]);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint sendmsg(int fd, LibC.MsgHdr* message, int flags);
}
