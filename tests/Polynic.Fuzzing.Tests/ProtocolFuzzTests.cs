using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Fuzzing.Protocol;
using Xunit.Abstractions;

namespace Polynic.Fuzzing.Tests;

/// <summary>
/// A bounded run of the vfio-user protocol fuzzer against the server <c>polynic serve</c> runs,
/// in this process, with the personalities loaded as the server loads them; and proof that the
/// fuzzer reports the failures it exists to find.
/// </summary>
[Collection(ModulesCollection.Name)]
public sealed class ProtocolFuzzTests(ModulesFixture modules, ITestOutputHelper output)
{
    [Fact]
    public async Task Fuzzing_the_server_breaks_no_invariant_and_the_sentinel_device_keeps_answering()
    {
        await using var target = await ProtocolTarget.StartAsync(modules.Catalog, ["e1000", "virtio-net", "rtl8139"], NullLoggerFactory.Instance);
        var options = new ProtocolFuzzOptions
        {
            Seed = 0x5EED_0013,
            Budget = new FuzzBudget(30_000, TimeSpan.FromSeconds(15)),
            CheckDescriptorLeaks = true,
        };

        var report = ProtocolFuzzer.Run(target.Sockets, target.SentinelSocket, options);

        output.WriteLine($"{report.Operations:N0} messages, {report.ExecutionsPerSecond:N0}/s, {report.Runs} sessions");
        foreach (var (name, value) in report.Counters) output.WriteLine($"  {name}: {value:N0}");
        Assert.True(report.Passed, string.Join(Environment.NewLine, report.Failures));
        Assert.True(report.Runs > ProtocolFuzzerWarmUp, "too few sessions to check descriptors after warm-up");
        // The run reached what it is for: device DMA through messages, refusals, server-ended sessions.
        Assert.True(report[ProtocolFuzzer.Counters.ServerRequests] > 0, "no DMA request reached the fuzzer");
        Assert.True(report[ProtocolFuzzer.Counters.ErrorReplies] > 0, "nothing was refused");
        Assert.True(report[ProtocolFuzzer.Counters.SentinelChecks] > 0, "the sentinel never checked");
        Assert.True(report[ProtocolFuzzer.Counters.DescriptorsAtEnd] > 0, "descriptors were not checked");
    }

    [Fact]
    public void A_server_that_stops_replying_is_reported_as_a_hang()
    {
        using var server = new ToyServer(answer: false);
        var options = new ProtocolFuzzOptions { Seed = 1, Budget = FuzzBudget.ForOperations(100), ReplyLimit = TimeSpan.FromMilliseconds(300) };

        var report = ProtocolFuzzer.Run([server.Path], null, options);

        Assert.Equal(FuzzFailureKind.Hang, Assert.Single(report.Failures).Kind);
    }

    [Fact]
    public void A_server_that_answers_the_wrong_message_is_reported()
    {
        using var server = new ToyServer(answer: true, idOffset: 1);
        var options = new ProtocolFuzzOptions { Seed = 1, Budget = FuzzBudget.ForOperations(100), ReplyLimit = TimeSpan.FromMilliseconds(300) };

        var report = ProtocolFuzzer.Run([server.Path], null, options);

        var failure = Assert.Single(report.Failures);
        Assert.Equal(FuzzFailureKind.Invariant, failure.Kind);
        Assert.Contains("came while waiting", failure.Detail);
    }

    private const int ProtocolFuzzerWarmUp = 20;

    /// <summary>A broken vfio-user server: reads messages and replies never, or with the wrong ID.</summary>
    private sealed class ToyServer : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly Thread _thread;
        private readonly bool _answer;
        private readonly int _idOffset;

        public ToyServer(bool answer, int idOffset = 0)
        {
            _answer = answer;
            _idOffset = idOffset;
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"toy-{Guid.NewGuid():N}.sock");
            _listener.Bind(new UnixDomainSocketEndPoint(Path));
            _listener.Listen();
            _thread = new Thread(Serve) { IsBackground = true };
            _thread.Start();
        }

        public string Path { get; }

        public void Dispose()
        {
            _listener.Dispose();
            File.Delete(Path);
        }

        private void Serve()
        {
            try
            {
                while (true)
                {
                    using var connection = _listener.Accept();
                    var head = new byte[16];
                    while (Read(connection, head))
                    {
                        var rest = new byte[Math.Max(0, (int)BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4)) - 16)];
                        if (rest.Length > 1 << 24 || !Read(connection, rest)) break;
                        if (!_answer) continue;
                        var reply = new byte[16];
                        head.AsSpan(0, 16).CopyTo(reply);
                        BinaryPrimitives.WriteUInt16LittleEndian(reply, (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(head) + _idOffset));
                        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(4), 16);
                        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(8), 1);
                        connection.Send(reply);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        private static bool Read(Socket connection, byte[] buffer)
        {
            int got = 0;
            while (got < buffer.Length)
            {
                int n = connection.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
                if (n == 0) return false;
                got += n;
            }
            return true;
        }
    }
}
