using System.Buffers.Binary;
using System.Diagnostics;

namespace Polynic.Fuzzing.Protocol;

/// <summary>
/// A well-behaved client of another device in the same server, reading its vendor ID and a
/// register every few milliseconds while the fuzzer attacks the others: the proof that a hostile
/// client costs at most its own device. Records the first reply that was late, wrong or missing.
/// </summary>
internal sealed class Sentinel : IDisposable
{
    private readonly string _path;
    private readonly TimeSpan _limit;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new(false);
    private volatile string? _failure;
    private long _checks;
    private long _worstTicks;

    public Sentinel(string path, TimeSpan limit)
    {
        _path = path;
        _limit = limit;
        _thread = new Thread(Run) { IsBackground = true, Name = "protocol fuzz sentinel" };
        _thread.Start();
    }

    /// <summary>The first interference seen, or null.</summary>
    public string? Failure => _failure;

    /// <summary>Round trips made.</summary>
    public long Checks => Interlocked.Read(ref _checks);

    /// <summary>The slowest round trip so far, in milliseconds.</summary>
    public long WorstMilliseconds => (long)Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _worstTicks)).TotalMilliseconds;

    public void Dispose()
    {
        _stop.Set();
        _thread.Join();
        _stop.Dispose();
    }

    private void Run()
    {
        using var client = WireClient.TryConnect(_path);
        if (client is null)
        {
            _failure = $"sentinel: cannot connect to {_path}";
            return;
        }
        ushort id = 1;
        uint? vendor = null;
        if (!RoundTrip(client, id++, Version(), out _)) return;
        while (!_stop.Wait(5))
        {
            if (!RoundTrip(client, id++, ConfigRead(), out var reply)) return;
            uint value = reply.Payload.Length >= 20 ? BinaryPrimitives.ReadUInt32LittleEndian(reply.Payload.AsSpan(16)) : 0;
            vendor ??= value;
            if (value != vendor || value == 0xFFFF_FFFF)
            {
                _failure = $"sentinel: the device's ID read 0x{value:x8}, was 0x{vendor:x8}";
                return;
            }
            Interlocked.Increment(ref _checks);
        }
    }

    private bool RoundTrip(WireClient client, ushort id, byte[] message, out WireMessage reply)
    {
        reply = default;
        BinaryPrimitives.WriteUInt16LittleEndian(message, id);
        long started = Stopwatch.GetTimestamp();
        try
        {
            if (!client.Send(message) || client.Receive(Environment.TickCount64 + (long)_limit.TotalMilliseconds) is not { } received)
            {
                _failure = "sentinel: the server closed the connection of a well-behaved client";
                return false;
            }
            reply = received;
        }
        catch (TimeoutException)
        {
            _failure = $"sentinel: a well-behaved client's read took more than {_limit.TotalSeconds:0.#} s while the fuzzer attacked another device";
            return false;
        }
        long took = Stopwatch.GetTimestamp() - started;
        if (took > Interlocked.Read(ref _worstTicks)) Interlocked.Exchange(ref _worstTicks, took);
        if (reply.Id != id || (reply.Flags & WireFormat.Error) != 0)
        {
            _failure = $"sentinel: reply {reply.Id} (flags 0x{reply.Flags:x}) to request {id}";
            return false;
        }
        return true;
    }

    private static byte[] Version()
    {
        var json = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}\0"u8;
        var message = new byte[WireFormat.HeaderSize + 4 + json.Length];
        WireFormat.WriteHeader(message, 0, WireFormat.Version, (uint)message.Length, WireFormat.TypeCommand);
        json.CopyTo(message.AsSpan(WireFormat.HeaderSize + 4));
        return message;
    }

    private static byte[] ConfigRead()
    {
        var message = new byte[WireFormat.HeaderSize + 16];
        WireFormat.WriteHeader(message, 0, WireFormat.RegionRead, (uint)message.Length, WireFormat.TypeCommand);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(WireFormat.HeaderSize + 8), 7); // config space
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(WireFormat.HeaderSize + 12), 4);
        return message;
    }
}
