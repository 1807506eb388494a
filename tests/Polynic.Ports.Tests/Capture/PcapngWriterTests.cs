using System.Buffers.Binary;
using Polynic.Ports.Capture;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Capture;

public sealed class PcapngWriterTests
{
    private static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0x0A];
    private static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0x0B];
    private static readonly DateTimeOffset Moment = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddTicks(1_234_567);

    // A frame whose source MAC carries a sequence number, so tshark's eth.src shows which one it is.
    internal static byte[] Numbered(int sequence, int length = 60)
    {
        var frame = Frames.Ethernet(MacB, [0x02, 0, 0, 0, (byte)(sequence >> 8), (byte)sequence], 0x88B5, new byte[length - 14]);
        return frame;
    }

    internal static int SequenceOf(string mac) => Convert.ToInt32(mac[^5..].Replace(":", ""), 16);

    [Fact]
    public void Section_and_interface_headers_alone_make_a_file_tshark_reads()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["empty.pcapng"]);
        writer.AddInterface("nic0");
        writer.Dispose();

        Assert.Empty(Tshark.Fields(writer.Path, null, "frame.number"));
        // Byte-order magic right after the block type and length (draft-ietf-opsawg-pcapng 4.1).
        var bytes = File.ReadAllBytes(writer.Path);
        Assert.Equal(0x0A0D0D0Au, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(0x1A2B3C4Du, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(0, bytes.Length % 4);
    }

    [Theory]
    [InlineData(PcapngTimestampResolution.Microseconds, "1700000000.123456000")]
    [InlineData(PcapngTimestampResolution.Nanoseconds, "1700000000.123456700")]
    public void Timestamps_use_the_declared_resolution(PcapngTimestampResolution resolution, string expected)
    {
        using var files = new CaptureFiles();
        var clock = new FixedClock(Moment);
        var writer = new PcapngWriter(files["time.pcapng"], new PcapngWriterOptions { TimestampResolution = resolution, TimeProvider = clock });
        int nic = writer.AddInterface("nic0");
        writer.WritePacket(nic, Numbered(1), CaptureDirection.Inbound);
        clock.Now = Moment.AddSeconds(1);
        writer.WritePacket(nic, Numbered(2), CaptureDirection.Outbound);
        writer.Dispose();

        var rows = Tshark.Fields(writer.Path, null, "frame.time_epoch", "frame.time_delta");
        Assert.Equal(expected, rows[0][0]);
        Assert.StartsWith("1.000000000", rows[1][1]);
    }

    [Fact]
    public void Direction_and_reception_type_are_in_epb_flags()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["flags.pcapng"]);
        int nic = writer.AddInterface("nic0");
        writer.WritePacket(nic, Frames.Ethernet(MacB, MacA, 0x88B5, new byte[46]), CaptureDirection.Inbound);
        writer.WritePacket(nic, Frames.Ethernet([0x01, 0x00, 0x5E, 0, 0, 1], MacA, 0x88B5, new byte[46]), CaptureDirection.Outbound);
        writer.WritePacket(nic, Frames.Ethernet(Frames.Broadcast, MacA, 0x88B5, new byte[46]), CaptureDirection.Unknown);
        writer.Dispose();

        var rows = Tshark.Fields(writer.Path, null, "frame.packet_flags_direction", "frame.packet_flags_reception_type");
        Assert.Equal(
            [["inbound", "1"], ["outbound", "2"], ["unknown", "3"]],
            rows.Select(r => new[] { Tshark.Direction(r[0]), r[1] }));
    }

    [Fact]
    public void Frames_longer_than_the_snap_length_are_cut_and_keep_their_original_length()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["snap.pcapng"]);
        int small = writer.AddInterface("small", snapLength: 64);
        int full = writer.AddInterface("full");
        writer.WritePacket(small, Numbered(1, 1514), CaptureDirection.Inbound);
        writer.WritePacket(small, Numbered(2, 61), CaptureDirection.Inbound);
        writer.WritePacket(full, Numbered(3, 65_550), CaptureDirection.Outbound);
        writer.Dispose();

        var rows = Tshark.Fields(writer.Path, null, "frame.interface_name", "frame.len", "frame.cap_len", "eth.src");
        Assert.Equal(
            [
                ["small", "1514", "64", "02:00:00:00:00:01"],
                ["small", "61", "61", "02:00:00:00:00:02"],
                ["full", "65550", "65550", "02:00:00:00:00:03"],
            ],
            rows);
    }

    [Fact]
    public void A_block_larger_than_the_buffer_goes_to_the_file_directly_between_buffered_ones()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["big.pcapng"], new PcapngWriterOptions { BufferSize = 4096 });
        int nic = writer.AddInterface("nic0");
        writer.WritePacket(nic, Numbered(1), CaptureDirection.Inbound);
        writer.WritePacket(nic, Numbered(2, 9001), CaptureDirection.Inbound);
        writer.WritePacket(nic, Numbered(3, 4095), CaptureDirection.Inbound);
        writer.WritePacket(nic, Numbered(4), CaptureDirection.Inbound);
        writer.Dispose();

        var rows = Tshark.Fields(writer.Path, null, "eth.src", "frame.len");
        Assert.Equal([1, 2, 3, 4], rows.Select(r => SequenceOf(r[0])));
        Assert.Equal(["60", "9001", "4095", "60"], rows.Select(r => r[1]));
    }

    [Fact]
    public void Rotation_keeps_the_newest_files_each_readable_with_every_interface()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["ring.pcapng"], new PcapngWriterOptions { MaxFileBytes = 4096, KeepFiles = 2 });
        int nic0 = writer.AddInterface("nic0");
        int nic1 = writer.AddInterface("nic1");
        for (int i = 0; i < 200; i++) writer.WritePacket(i % 2 == 0 ? nic0 : nic1, Numbered(i, 200), CaptureDirection.Inbound);
        writer.Dispose();

        Assert.True(writer.Rotations >= 3, $"{writer.Rotations} rotations");
        Assert.Equal([files["ring.1.pcapng"], files["ring.2.pcapng"]], writer.RotatedFiles);
        Assert.False(File.Exists(files["ring.3.pcapng"]));
        var sequences = new List<int>();
        foreach (var path in new[] { files["ring.2.pcapng"], files["ring.1.pcapng"], writer.Path })
        {
            Assert.InRange(new FileInfo(path).Length, 1, 4096);
            var rows = Tshark.Fields(path, null, "frame.interface_name", "eth.src");
            Assert.NotEmpty(rows);
            foreach (var row in rows)
            {
                int sequence = SequenceOf(row[1]);
                Assert.Equal(sequence % 2 == 0 ? "nic0" : "nic1", row[0]);
                sequences.Add(sequence);
            }
        }
        // The three files hold the newest packets, consecutive, ending with the last one written.
        Assert.Equal(Enumerable.Range(200 - sequences.Count, sequences.Count), sequences);
    }

    [Fact]
    public void Without_kept_files_rotation_starts_the_file_over()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["one.pcapng"], new PcapngWriterOptions { MaxFileBytes = 2048, KeepFiles = 0 });
        int nic = writer.AddInterface("nic0");
        for (int i = 0; i < 50; i++) writer.WritePacket(nic, Numbered(i, 200), CaptureDirection.Inbound);
        writer.Dispose();

        Assert.Equal([writer.Path], Directory.GetFiles(files.Root));
        var rows = Tshark.Fields(writer.Path, null, "eth.src");
        Assert.Equal(49, SequenceOf(rows[^1][0]));
        Assert.True(rows.Length < 50);
    }

    [Fact]
    public void Buffered_packets_reach_the_file_on_the_flush_interval_while_it_stays_open()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["live.pcapng"], new PcapngWriterOptions { FlushInterval = TimeSpan.FromMilliseconds(50) });
        int nic = writer.AddInterface("nic0");
        writer.WritePacket(nic, Numbered(1), CaptureDirection.Inbound);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Tshark.Fields(writer.Path, null, "eth.src").Length == 0 && DateTime.UtcNow < deadline) Thread.Sleep(50);

        Assert.Equal([["02:00:00:00:00:01"]], Tshark.Fields(writer.Path, null, "eth.src"));
    }

    [Fact]
    public void Without_a_flush_interval_packets_stay_buffered_until_flush()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["manual.pcapng"], new PcapngWriterOptions { FlushInterval = TimeSpan.Zero });
        int nic = writer.AddInterface("nic0");
        writer.WritePacket(nic, Numbered(1), CaptureDirection.Inbound);

        Assert.Equal(0, new FileInfo(writer.Path).Length);
        writer.Flush();
        Assert.Single(Tshark.Fields(writer.Path, null, "eth.src"));
    }

    [Fact]
    public void Concurrent_writers_on_their_own_interfaces_lose_nothing()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["threads.pcapng"], new PcapngWriterOptions { BufferSize = 8192 });
        int[] interfaces = Enumerable.Range(0, 4).Select(i => writer.AddInterface($"nic{i}")).ToArray();
        using var go = new Barrier(interfaces.Length);
        var threads = interfaces.Select(id => new Thread(() =>
        {
            var frame = Numbered(id, 100);
            go.SignalAndWait();
            for (int i = 0; i < 1000; i++) writer.WritePacket(id, frame, i % 2 == 0 ? CaptureDirection.Inbound : CaptureDirection.Outbound);
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        writer.Dispose();

        var rows = Tshark.Fields(writer.Path, null, "frame.interface_name", "eth.src");
        Assert.Equal(4000, rows.Length);
        foreach (var group in rows.GroupBy(r => r[0]))
        {
            Assert.Equal(1000, group.Count());
            Assert.All(group, row => Assert.Equal($"nic{SequenceOf(row[1])}", row[0]));
        }
    }

    [Fact]
    public void A_capture_into_a_stream_is_a_pcapng_tshark_reads_and_refuses_rotation()
    {
        using var files = new CaptureFiles();
        var stream = new MemoryStream();
        var writer = new PcapngWriter(stream, leaveOpen: true);
        int nic = writer.AddInterface("nic0");
        writer.WritePacket(nic, Numbered(1), CaptureDirection.Inbound);
        writer.WritePacket(nic, Numbered(2), CaptureDirection.Outbound);
        writer.Dispose();
        File.WriteAllBytes(files["stream.pcapng"], stream.ToArray());

        var rows = Tshark.Fields(files["stream.pcapng"], null, "frame.interface_name", "eth.src");
        Assert.Equal([["nic0", "02:00:00:00:00:01"], ["nic0", "02:00:00:00:00:02"]], rows);
        Assert.Equal("(MemoryStream)", writer.Path);
        Assert.Throws<ArgumentException>(() => new PcapngWriter(new MemoryStream(), new PcapngWriterOptions { MaxFileBytes = 4096 }));
    }

    [Fact]
    public void Writing_a_packet_allocates_nothing()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["alloc.pcapng"], new PcapngWriterOptions { BufferSize = 4096, FlushInterval = TimeSpan.Zero });
        int nic = writer.AddInterface("nic0", snapLength: 512);
        var frame = Numbered(1, 1514);

        AssertNoAllocation(() =>
        {
            for (int i = 0; i < 100; i++) writer.WritePacket(nic, frame, CaptureDirection.Outbound);
        });
    }

    [Fact]
    public void Misuse_is_refused_and_a_disposed_writer_counts_drops()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["misuse.pcapng"]);
        int nic = writer.AddInterface("nic0");

        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WritePacket(nic + 1, Numbered(1), CaptureDirection.Inbound));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.AddInterface("x", snapLength: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.AddInterface("x", snapLength: PcapngWriter.MaxSnapLength + 1));
        Assert.Throws<ArgumentException>(() => writer.AddInterface(new string('x', PcapngWriter.MaxNameBytes + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PcapngWriter(files["bad.pcapng"], new PcapngWriterOptions { BufferSize = 16 }));

        writer.Dispose();
        writer.Dispose();
        Assert.False(writer.WritePacket(nic, Numbered(1), CaptureDirection.Inbound));
        Assert.Equal(1, writer.PacketsDropped);
        Assert.Throws<ObjectDisposedException>(() => writer.AddInterface("late"));
        Assert.Throws<ObjectDisposedException>(writer.Flush);
        Assert.Null(writer.Fault);
    }

    private static void AssertNoAllocation(Action body)
    {
        body();
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 5 && best != 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            body();
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, best);
    }
}
