using System.Diagnostics;
using Polynic.Ports.Capture;
using Polynic.Ports.Loopback;
using Polynic.Ports.Tests.Support;
using static Polynic.Ports.Tests.Capture.PcapngWriterTests;

namespace Polynic.Ports.Tests.Capture;

/// <summary>
/// Slow storage under a capture: the NICs call the capture port with their device locks held,
/// so a capture that waited for the disk would stall every NIC writing into it.
/// </summary>
public sealed class StalledCaptureTests
{
    [Fact]
    public async Task A_stalled_capture_stalls_neither_direction_of_the_port_and_counts_what_it_leaves_out()
    {
        using var files = new CaptureFiles();
        using var storage = new GatedStream();
        var writer = new PcapngWriter(storage,
            new PcapngWriterOptions { BufferSize = 4096, QueueFrames = 64, FlushInterval = TimeSpan.Zero }, leaveOpen: true);
        using var pair = new PortPair();
        using var capture = new CapturePort(pair.A, writer, "nic0", ownsInner: false);
        var atA = new FrameRecorder();
        var atB = new FrameRecorder();
        capture.Start(atA);
        pair.B.Start(atB);

        // Frames of 1000 bytes each way: four fill the writer's 4 KiB buffer, and its write then
        // waits at the closed gate for as long as the test keeps it closed.
        const int EachWay = 200;
        Task<TimeSpan> Traffic(int first) => Task.Run(() =>
        {
            var clock = Stopwatch.StartNew();
            for (int i = first; i < first + EachWay / 2; i++)
            {
                capture.Send(Numbered(2 * i, 1000));
                pair.B.Send(Numbered(2 * i + 1, 1000));
            }
            return clock.Elapsed;
        });
        try
        {
            // The first half fills the queue and gets the writer thread stuck in the storage; the
            // second half runs while it certainly is.
            var first = Traffic(0);
            Assert.True(SpinWait.SpinUntil(() => storage.WritesHeld > 0, TimeSpan.FromSeconds(10)), "the writer thread never reached the storage");
            var second = Traffic(EachWay / 2);
            var both = Task.WhenAll(first, second);
            // The storage stays closed until the finally below: traffic that waited for it would
            // never finish, so finishing at all (with time to spare on a loaded machine) is the proof.
            Assert.True(await Task.WhenAny(both, Task.Delay(TimeSpan.FromSeconds(30))) == both, "the port's send and receive waited for the capture's storage");
            Assert.Equal(1, storage.WritesHeld);
        }
        finally
        {
            storage.Open();
        }

        // The data path lost nothing; the capture left frames out and counted each one.
        Assert.Equal(EachWay, atB.Received.Length);
        Assert.Equal(EachWay, atA.Received.Length);
        Assert.True(capture.Counters.FramesDropped > 0, capture.Counters.ToString());
        Assert.Equal(2 * EachWay, capture.Counters.FramesQueued + capture.Counters.FramesDropped);
        Assert.Equal(capture.Counters.FramesDropped, writer.PacketsQueueFull);

        writer.Dispose();
        File.WriteAllBytes(files["stalled.pcapng"], storage.Written);
        var sequences = Tshark.Fields(files["stalled.pcapng"], null, "eth.src").Select(row => SequenceOf(row[0])).ToArray();
        Assert.Equal(capture.Counters.FramesQueued, sequences.Length);
        Assert.Equal(writer.PacketsWritten, sequences.Length);
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Length, sequences.Distinct().Count());
    }

    [Fact]
    public void Frames_left_out_are_logged_with_their_count_at_most_once_per_interval()
    {
        using var storage = new GatedStream();
        var log = new ListLogger();
        var writer = new PcapngWriter(storage, new PcapngWriterOptions
        {
            BufferSize = 4096,
            QueueFrames = 16,
            FlushInterval = TimeSpan.Zero,
            Log = log,
            DropReportInterval = TimeSpan.FromMilliseconds(200),
        }, leaveOpen: true);
        int nic = writer.AddInterface("nic0");
        var clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed < TimeSpan.FromMilliseconds(700))
            {
                for (int i = 0; i < 100; i++) writer.WritePacket(nic, Numbered(i, 1000), CaptureDirection.Outbound);
                Thread.Sleep(10);
            }
        }
        finally
        {
            storage.Open();
        }
        writer.Dispose();

        var lines = log.Entries.Select(e => e.Message).ToArray();
        Assert.True(writer.PacketsQueueFull > 1000, $"{writer.PacketsQueueFull} left out");
        // One line per interval at most (plus the final one on dispose), not one per frame.
        Assert.InRange(lines.Length, 1, (int)(clock.Elapsed / TimeSpan.FromMilliseconds(200)) + 2);
        Assert.All(lines, line => Assert.Contains("capture queue was full", line));
        long logged = lines.Sum(line => long.Parse(line.Split(": ")[1].Split(' ')[0]));
        Assert.Equal(writer.PacketsQueueFull, logged);
    }

    [Fact]
    public void Dispose_writes_everything_queued_and_ends_the_writer_thread()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["drain.pcapng"], new PcapngWriterOptions { FlushInterval = TimeSpan.Zero });
        int nic = writer.AddInterface("nic0");
        for (int i = 0; i < 500; i++) Assert.True(writer.WritePacket(nic, Numbered(i, 300), CaptureDirection.Inbound));
        Assert.True(writer.IsWriting);

        writer.Dispose();

        Assert.Equal(500, Tshark.Fields(writer.Path, null, "eth.src").Length);
        Assert.Equal(500, writer.PacketsWritten);
        Assert.False(writer.IsWriting);
        Assert.False(writer.WritePacket(nic, Numbered(501), CaptureDirection.Inbound));
        Assert.Equal(1, writer.PacketsDropped);
    }

    [Fact]
    public void Failing_storage_stops_the_capture_and_is_logged_while_the_port_carries_on()
    {
        using var storage = new GatedStream { Broken = true };
        storage.Open();
        var log = new ListLogger();
        var writer = new PcapngWriter(storage, new PcapngWriterOptions { FlushInterval = TimeSpan.Zero, Log = log }, leaveOpen: true);
        using var pair = new PortPair();
        using var capture = new CapturePort(pair.A, writer, "nic0", ownsInner: false);
        var atB = new FrameRecorder();
        capture.Start(new FrameRecorder());
        pair.B.Start(atB);

        Assert.True(capture.Send(Numbered(1)));
        var failure = Assert.Throws<IOException>(writer.Flush);
        Assert.Contains("No space left on device", failure.Message);
        Assert.True(capture.Send(Numbered(2)));

        Assert.Equal(2, atB.Received.Length);
        Assert.IsType<IOException>(writer.Fault);
        Assert.Equal(1, capture.Counters.FramesDropped);
        Assert.Equal(0, writer.PacketsQueueFull);
        var error = Assert.Single(log.Entries);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, error.Level);
        Assert.Contains("No space left on device", error.Message);
        writer.Dispose();
        Assert.False(writer.IsWriting);
    }

    [Fact]
    public void An_interface_added_while_the_writer_thread_runs_is_declared_before_its_first_packet()
    {
        // The writer thread starts at once and looks at the interfaces while the test adds one and
        // queues a packet of it; whatever the interleaving, the IDB must come first in the file.
        for (int round = 0; round < 2000; round++)
        {
            var stream = new MemoryStream();
            var writer = new PcapngWriter(stream, new PcapngWriterOptions { FlushInterval = TimeSpan.Zero }, leaveOpen: true);
            int nic = writer.AddInterface("nic0");
            writer.WritePacket(nic, Numbered(round), CaptureDirection.Inbound);
            writer.Dispose();

            Assert.Equal([0x0A0D0D0Au, 1u, 6u], BlockTypes(stream.ToArray()));
        }
    }

    private static uint[] BlockTypes(byte[] file)
    {
        var types = new List<uint>();
        for (int at = 0; at < file.Length; at += System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at + 4)))
            types.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)));
        return [.. types];
    }
}
