using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Polynic.Fuzzing.Protocol;

namespace Polynic.GuestBenchmarks;

/// <summary>
/// Polynic's share of a guest register read: a vfio-user client on this machine sends REGION_READ
/// to a <c>polynic serve</c> process, one at a time, and times each answer. What a guest's read
/// costs beyond this is QEMU's side (the vCPU leaving TCG, QEMU's proxy thread, the reply's
/// wake-up) — compare with the guest-measured figure of the guest benchmark.
/// </summary>
internal static class RegisterRoundTrip
{
    private const uint ConfigRegion = 7; // VFIO_PCI_CONFIG_REGION_INDEX

    /// <summary>A side-effect-free register of each card's first BAR: its offset and width.</summary>
    private static (ulong Offset, uint Width) Probe(Card card) => card.Personality switch
    {
        "e1000" => (0x8, 4),        // STATUS
        "ne2000" => (0x0, 1),       // CR
        _ => (0x0, 4),              // RTL8139 IDR0-3; virtio common configuration device_feature_select
    };

    public static async Task<string> RunAsync(Card card, int reads)
    {
        var directory = Directory.CreateTempSubdirectory("polynic-rtt-");
        string socket = Path.Combine(directory.FullName, "rtt.sock");
        await using var serve = await Serve.StartAsync(["--device", $"{card.Personality}:{socket}{card.Options}"], directory);
        using var client = WireClient.TryConnect(socket) ?? throw new InvalidOperationException("cannot connect to " + socket);
        ushort id = 0;
        Exchange(client, ref id, WireFormat.Version, VersionPayload());
        // Memory and I/O decoding on, as the guest's firmware would have it.
        Exchange(client, ref id, WireFormat.RegionWrite, RegionPayload(4, ConfigRegion, 2, [0x03, 0x00]));
        var (offset, width) = Probe(card);
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"{card.Name}: {reads} REGION_READs each, one outstanding, client on the same machine (2 cores):");
        report.AppendLine(Time(client, ref id, "config dword 0", RegionPayload(0, ConfigRegion, 4, []), reads));
        report.AppendLine(Time(client, ref id, $"BAR0 +0x{offset:x} ({width} bytes)", RegionPayload(offset, 0, width, []), reads));
        return report.ToString();
    }

    private static string Time(WireClient client, ref ushort id, string what, byte[] payload, int reads)
    {
        var samples = new double[reads];
        for (int i = 0; i < 1000; i++) Exchange(client, ref id, WireFormat.RegionRead, payload); // warm-up: JIT, caches
        for (int i = 0; i < reads; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Exchange(client, ref id, WireFormat.RegionRead, payload);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(samples);
        return string.Create(CultureInfo.InvariantCulture,
            $"  {what}: median {samples[reads / 2]:0.0} us, p99 {samples[reads * 99 / 100]:0.0} us, min {samples[0]:0.0} us, max {samples[^1]:0.0} us");
    }

    private static void Exchange(WireClient client, ref ushort id, ushort command, byte[] payload)
    {
        var message = new byte[WireFormat.HeaderSize + payload.Length];
        WireFormat.WriteHeader(message, ++id, command, (uint)message.Length, WireFormat.TypeCommand);
        payload.CopyTo(message, WireFormat.HeaderSize);
        if (!client.Send(message)) throw new InvalidOperationException("the server closed the connection");
        var reply = client.Receive(Environment.TickCount64 + 5000) ?? throw new InvalidOperationException("the server closed the connection");
        if (reply.Id != id || !reply.IsReply || (reply.Flags & WireFormat.Error) != 0)
            throw new InvalidOperationException($"command {command} got reply id {reply.Id} flags 0x{reply.Flags:x} error {reply.Error}");
    }

    private static byte[] VersionPayload()
    {
        var json = Encoding.UTF8.GetBytes("{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}");
        var payload = new byte[4 + json.Length + 1];
        json.CopyTo(payload, 4); // version 0.0
        return payload;
    }

    private static byte[] RegionPayload(ulong offset, uint region, uint count, byte[] data)
    {
        var payload = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, offset);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), region);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), count);
        data.CopyTo(payload, 16);
        return payload;
    }
}
