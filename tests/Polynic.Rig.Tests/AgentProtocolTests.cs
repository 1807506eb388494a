using System.Text;
using Polynic.Rig.Guests;

namespace Polynic.Rig.Tests;

/// <summary>The host parser: exact output, stray kernel lines, late answers, reboots.</summary>
public sealed class AgentProtocolTests
{
    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Kernel_lines_inside_the_output_are_ignored()
    {
        var protocol = new AgentProtocol();
        var result = protocol.Expect("t1");
        var encoded = B64("hello\nworld\n");

        protocol.OnLine("@@POLYNIC-BEGIN t1");
        protocol.OnLine(encoded[..8]);
        protocol.OnLine("[   12.345678] e1000 0000:00:03.0 eth0: Link is Up");
        protocol.OnLine(encoded[8..]);
        protocol.OnLine("@@POLYNIC-END t1 0");

        Assert.Equal(new CommandResult(0, "hello\nworld\n"), await result);
    }

    [Fact]
    public async Task A_late_answer_to_an_abandoned_command_does_not_complete_the_next_one()
    {
        var protocol = new AgentProtocol();
        _ = protocol.Expect("old");
        protocol.Abandon("old");
        var result = protocol.Expect("new");

        protocol.OnLine("@@POLYNIC-BEGIN old");
        protocol.OnLine(B64("stale"));
        protocol.OnLine("@@POLYNIC-END old 130");
        Assert.False(result.IsCompleted);

        protocol.OnLine("@@POLYNIC-BEGIN new");
        protocol.OnLine("@@POLYNIC-END new 7");
        Assert.Equal(new CommandResult(7, ""), await result);
    }

    [Fact]
    public async Task Ready_during_a_command_fails_it_as_a_reboot()
    {
        var protocol = new AgentProtocol();
        protocol.OnLine("garbage before boot @@POLYNIC-READY");
        var result = protocol.Expect("t");

        protocol.OnLine("@@POLYNIC-READY");

        var error = await Assert.ThrowsAsync<GuestException>(() => result);
        Assert.Contains("rebooted", error.Message);
        Assert.Equal(2, protocol.ReadyCount);
        await protocol.WhenReadyCount(2);
    }

    [Fact]
    public async Task Termination_fails_waiters()
    {
        var protocol = new AgentProtocol();
        var ready = protocol.WhenReadyCount(1);

        protocol.OnTerminated(new GuestException("QEMU exited"));

        await Assert.ThrowsAsync<GuestException>(() => ready);
        await Assert.ThrowsAsync<GuestException>(() => protocol.Expect("x"));
    }

    [Fact]
    public void Readable_tail_decodes_output_blocks()
    {
        var text = AgentProtocol.Readable(["host> [t] uname", "@@POLYNIC-BEGIN t", B64("6.12\n"), "@@POLYNIC-END t 0"]);

        Assert.Equal("host> [t] uname\n6.12\n@@POLYNIC-END t 0", text);
    }
}
