using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Polynic.Native;

namespace Polynic.Soak.Hostile;

/// <summary>
/// What a hostile vfio-user client does to the NIC it is connected to. Each attack opens its own
/// connection(s), closes them, and returns one line saying what the server did; none of them
/// may cost any other NIC of the process anything (that is checked outside, by the probe and the
/// guests' transfers).
/// </summary>
internal static class Attacks
{
    private static readonly TimeSpan Reply = TimeSpan.FromSeconds(10);
    private const ulong Window = 0x10_0000;
    private const int F_ADD_SEALS = 1033, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;
    private const uint MFD_ALLOW_SEALING = 2;
    private const ulong Icr = 0xC0, Ics = 0xC8, Ims = 0xD0, Status = 0x8;

    public static readonly IReadOnlyList<(string Name, Func<string, Task<string>> Run)> All =
    [
        ("blocking full INTx eventfd", BlockingIntxEventFdAsync),
        ("DMA_MAP flood to the limit", DmaMapFloodAsync),
        ("unsealed memfd truncated under the server", TruncatedMemfdAsync),
        ("message DMA answered slowly", s => MessageDmaAsync(s, DmaAnswer.Slowly)),
        ("message DMA never answered", s => MessageDmaAsync(s, DmaAnswer.Never)),
        ("malformed and partial messages", MalformedAsync),
        ("connect without VERSION", NoVersionAsync),
        ("reconnect loop", ReconnectLoopAsync),
    ];

    private static async Task<AttackerConnection> OpenAsync(string socket)
    {
        var c = AttackerConnection.Connect(socket);
        if (await c.VersionAsync(Reply) is { IsError: false }) return c;
        c.Dispose();
        throw new IOException("VERSION got no reply");
    }

    private static async Task<string> BlockingIntxEventFdAsync(string socket)
    {
        using var c = await OpenAsync(socket);
        using var intx = new FileDescriptor(LibC.eventfd(0, LibC.EFD_CLOEXEC)); // blocking on purpose
        FillCounter(intx);
        var set = await c.RequestAsync(WireMessage.SetIrqs, WireMessage.IrqSetPayload(WireMessage.IntxIndex, 0, 1, WireMessage.IrqEventFdTrigger), Reply, [intx.Number]);
        if (set is not { IsError: false }) return "SET_IRQS refused";
        await c.WriteAsync(WireMessage.ConfigRegion, 4, 0x0006, Reply, width: 2);
        await c.WriteAsync(0, Ims, 0x1F6DF, Reply);
        for (int i = 0; i < 20; i++)
        {
            await c.WriteAsync(0, Ics, 0x4, Reply); // link status change: the line goes up
            await c.ReadRegister32Async(0, Icr, Reply); // read-to-clear: down again, ready to rise
        }
        int answered = 0;
        for (int i = 0; i < 20; i++)
            if (await c.ReadRegister32Async(0, Status, TimeSpan.FromSeconds(5)) is not null) answered++;
        return $"{answered}/20 register reads answered after 20 interrupts into a full eventfd";
    }

    private static async Task<string> DmaMapFloodAsync(string socket)
    {
        using var c = await OpenAsync(socket);
        using var ram = SealedMemfd(0x1000);
        int accepted = 0;
        uint refusal = 0;
        for (int i = 0; i < 70_000 && refusal == 0; i++)
        {
            var r = await c.RequestAsync(WireMessage.DmaMap, WireMessage.DmaMapPayload(Window + (ulong)i * 0x1000, 0x1000), Reply, [ram.Number]);
            if (r is null) return $"no reply to map {i + 1}";
            if (r.IsError) refusal = r.Error;
            else accepted++;
        }
        var unmap = await c.RequestAsync(WireMessage.DmaUnmap, WireMessage.DmaUnmapPayload(0, 0, WireMessage.UnmapAll), Reply);
        var vendor = await c.ReadConfig32Async(0, Reply);
        return $"{accepted} maps accepted, then errno {refusal}; unmap-all {(unmap is { IsError: false } ? "ok" : "failed")}; session {(vendor is null ? "dead" : "answers")}";
    }

    private static async Task<string> TruncatedMemfdAsync(string socket)
    {
        using var c = await OpenAsync(socket);
        using var ram = new FileDescriptor(LibC.memfd_create("soak-unsealed", LibC.MFD_CLOEXEC));
        FileDescriptor.Check(LibC.ftruncate(ram, 0x10000), "ftruncate");
        var shadow = new byte[0x10000];
        E1000Transmit.Fill(shadow, Window);
        using (var file = new FileStream(new SafeFileHandle(ram.DangerousGetHandle(), ownsHandle: false), FileAccess.ReadWrite))
            file.Write(shadow);
        var map = await c.RequestAsync(WireMessage.DmaMap, WireMessage.DmaMapPayload(Window, 0x10000), Reply, [ram.Number]);
        if (map is not { IsError: false }) return "DMA_MAP of the unsealed memfd refused";
        FileDescriptor.Check(LibC.ftruncate(ram, 0), "ftruncate"); // the pages vanish under the server
        c.Memory[Window] = shadow; // what the server may still ask for through messages
        if (!await E1000Transmit.ProgramAsync(c, Window, Reply)) return "ring programming got no reply";
        int sent = 0;
        for (int i = 0; i < 4; i++)
            if (await E1000Transmit.KickAsync(c, i, Reply)) sent++;
        var vendor = await c.ReadConfig32Async(0, Reply);
        return $"truncated to 0; {sent}/4 transmits kicked, {c.ServerRequests} DMA messages; session {(vendor is null ? "dead" : "answers")}";
    }

    private static async Task<string> MessageDmaAsync(string socket, DmaAnswer answer)
    {
        using var c = await OpenAsync(socket);
        var memory = new byte[E1000Transmit.WindowBytes];
        E1000Transmit.Fill(memory, Window);
        c.Memory[Window] = memory;
        c.Answer = answer;
        c.SlowDelay = TimeSpan.FromSeconds(2);
        var map = await c.RequestAsync(WireMessage.DmaMap, WireMessage.DmaMapPayload(Window, (ulong)memory.Length), Reply);
        if (map is not { IsError: false }) return "message DMA_MAP refused";
        if (!await E1000Transmit.ProgramAsync(c, Window, Reply)) return "ring programming got no reply";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int kicked = 0;
        for (int i = 0; i < 3; i++)
            if (await E1000Transmit.KickAsync(c, i, TimeSpan.FromSeconds(30))) kicked++;
        bool closed = await c.WaitClosedAsync(TimeSpan.FromSeconds(answer == DmaAnswer.Never ? 30 : 3));
        return $"{kicked}/3 kicks answered in {clock.Elapsed.TotalSeconds:0.0} s, {c.ServerRequests} DMA requests; server {(closed ? "disconnected the client" : "kept the session")}";
    }

    private static async Task<string> MalformedAsync(string socket)
    {
        var outcomes = new List<string>();
        var cases = new (string Name, Func<byte[]> Bytes)[]
        {
            ("size<16", () => Header(0xF001, WireMessage.RegionRead, 8)),
            ("size 4 GiB", () => Header(0xF002, WireMessage.RegionRead, uint.MaxValue)),
            ("unknown command", () => Header(0xF003, 0x7777, 16)),
            ("region 9", () => WireMessage.Build(0xF004, WireMessage.RegionRead, WireMessage.RegionAccess(9, 0, 4))),
            ("read 2 GiB", () => WireMessage.Build(0xF005, WireMessage.RegionRead, WireMessage.RegionAccess(0, 0, 0x7FFF_FFFF))),
            ("argsz lies", () => { var p = WireMessage.DmaMapPayload(Window, 0x1000); BinaryPrimitives.WriteUInt32LittleEndian(p, 4096); return WireMessage.Build(0xF006, WireMessage.DmaMap, p); }),
            ("stray reply", () => WireMessage.Build(0xF007, WireMessage.DmaRead, new byte[12], WireMessage.TypeReply)),
            ("irq count 1000, no fds", () => WireMessage.Build(0xF008, WireMessage.SetIrqs, WireMessage.IrqSetPayload(0, 0, 1000, WireMessage.IrqEventFdTrigger))),
            ("garbage", () => { var b = new byte[256]; Random.Shared.NextBytes(b); return b; }),
            ("half a message", () => Header(0xF009, WireMessage.RegionRead, 32)),
        };
        foreach (var (name, bytes) in cases)
        {
            using var c = await OpenAsync(socket);
            try { c.SendRaw(bytes()); }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { outcomes.Add($"{name}: send failed"); continue; }
            // Half a message is followed by silence: anything more would complete it.
            var vendor = name == "half a message" ? null : await c.ReadConfig32Async(0, TimeSpan.FromSeconds(3));
            bool closed = vendor is null && await c.WaitClosedAsync(TimeSpan.FromSeconds(30));
            outcomes.Add($"{name}: {(vendor is not null ? "answered on" : closed ? "disconnected" : "silent, open")}");
        }
        return string.Join("; ", outcomes);
    }

    private static async Task<string> NoVersionAsync(string socket)
    {
        using (var early = AttackerConnection.Connect(socket))
        {
            var r = await early.RequestAsync(WireMessage.RegionRead, WireMessage.RegionAccess(WireMessage.ConfigRegion, 0, 4), TimeSpan.FromSeconds(5));
            if (r is { IsError: false }) return "a read before VERSION was answered";
        }
        using var silent = AttackerConnection.Connect(socket);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool closed = await silent.WaitClosedAsync(TimeSpan.FromSeconds(60));
        return closed ? $"read before VERSION refused; silent client disconnected after {clock.Elapsed.TotalSeconds:0.0} s" : "silent client still connected after 60 s";
    }

    private static async Task<string> ReconnectLoopAsync(string socket)
    {
        int versioned = 0, bare = 0;
        for (int i = 0; i < 50; i++)
        {
            try
            {
                using var c = AttackerConnection.Connect(socket);
                if (await c.VersionAsync(TimeSpan.FromSeconds(5)) is { IsError: false } && await c.ReadConfig32Async(0, TimeSpan.FromSeconds(5)) is not null) versioned++;
            }
            catch (System.Net.Sockets.SocketException) { }
            try
            {
                using var c = AttackerConnection.Connect(socket);
                bare++;
            }
            catch (System.Net.Sockets.SocketException) { }
        }
        return $"50 connect+VERSION+read+close ({versioned} served), 50 connect+close ({bare} accepted)";
    }

    // The counter's maximum: every further write to a blocking eventfd blocks.
    private static unsafe void FillCounter(FileDescriptor eventFd)
    {
        ulong full = 0xFFFF_FFFF_FFFF_FFFE;
        LibC.write(eventFd.Number, &full, sizeof(ulong));
    }

    private static byte[] Header(ushort id, ushort command, uint size)
    {
        var b = new byte[WireMessage.HeaderSize];
        WireMessage.WriteHeader(b, id, command, size, 0, 0);
        return b;
    }

    private static FileDescriptor SealedMemfd(long size)
    {
        var fd = new FileDescriptor(LibC.memfd_create("soak-sealed", LibC.MFD_CLOEXEC | MFD_ALLOW_SEALING));
        FileDescriptor.Check(LibC.ftruncate(fd, size), "ftruncate");
        FileDescriptor.Check(LibC.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), "F_ADD_SEALS");
        return fd;
    }
}
