using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Polynic.Ports.Tap;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Tap;

/// <summary>Opening, losing and closing a tap: interfaces, threads and errors.</summary>
public sealed class TapPortLifecycleTests
{
    [Fact]
    public void Deleting_the_interface_takes_the_link_down_within_a_second()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true);
        tap.ResolveKernelMac();
        Assert.True(tap.Port.LinkUp);

        var clock = Stopwatch.StartNew();
        tap.Namespace.Ip("link", "del", tap.InterfaceName);

        Assert.True(tap.Recorder.WaitForLink(false, TimeSpan.FromSeconds(1)), "no LinkChanged(false) within 1 s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1));
        Assert.False(tap.Port.LinkUp);
        Assert.Equal([false], tap.Recorder.Links);
        Assert.True(TapPortTrafficTests.WaitUntil(() => !tap.Port.IsReceiving, TimeSpan.FromSeconds(1)));

        long failures = tap.Port.Counters.SendFailures;
        Assert.False(tap.Port.Send(Frames.ArpRequest(tap.Station.Mac, tap.Station.Ip, tap.KernelIp)));
        Assert.Equal(failures + 1, tap.Port.Counters.SendFailures);

        var linkDown = tap.Logger.Entries.Where(entry => entry.Message.Contains("link down")).ToArray();
        Assert.Single(linkDown);
        Assert.Equal(LogLevel.Warning, linkDown[0].Level);
    }

    [Fact]
    public void Dispose_stops_the_thread_and_removes_the_interface_it_created()
    {
        string name = TapInNamespace.UniqueName();
        var port = TapPort.Open(new TapPortOptions { InterfaceName = name, BringUp = true });
        try
        {
            Assert.True(port.CreatedInterface);
            Assert.Equal($"tap:{name}", port.Name);
            Assert.True(HostCommand.InterfaceExists(name));
            int flags = Convert.ToInt32(File.ReadAllText($"/sys/class/net/{name}/flags").Trim(), 16);
            Assert.Equal(1, flags & 1); // IFF_UP
            port.Start(new FrameRecorder());
            Assert.True(port.IsReceiving);
        }
        finally
        {
            var clock = Stopwatch.StartNew();
            port.Dispose();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"Dispose took {clock.Elapsed}");
        }
        Assert.False(port.IsReceiving);
        Assert.False(port.LinkUp);
        Assert.False(HostCommand.InterfaceExists(name));
        Assert.False(port.Send(new byte[60]));
        port.Dispose();
    }

    [Fact]
    public void Dispose_removes_an_interface_that_was_moved_to_another_namespace()
    {
        var tap = TapInNamespace.Create(vnetHeader: false);
        try
        {
            tap.Port.Dispose();
            Assert.False(tap.Port.IsReceiving);
            Assert.NotEqual(0, tap.Namespace.Exec("ip", "link", "show", tap.InterfaceName).ExitCode);
        }
        finally
        {
            tap.Dispose();
        }
        Assert.DoesNotContain(tap.Namespace.Name, HostCommand.Check("ip", "netns", "list"));
    }

    [Fact]
    public void Attaching_to_a_persistent_tap_leaves_it_in_place()
    {
        string name = TapInNamespace.UniqueName();
        HostCommand.Check("ip", "tuntap", "add", "dev", name, "mode", "tap");
        try
        {
            using (var port = TapPort.Open(new TapPortOptions { InterfaceName = name, VnetHeader = true }))
            {
                Assert.False(port.CreatedInterface);
                port.Start(new FrameRecorder());
            }
            Assert.True(HostCommand.InterfaceExists(name));
        }
        finally
        {
            HostCommand.Run("ip", "link", "del", name);
        }
    }

    [Fact]
    public void A_name_pattern_gets_the_kernel_chosen_name()
    {
        using var port = TapPort.Open(new TapPortOptions { InterfaceName = "pntpat%d" });
        Assert.StartsWith("pntpat", port.InterfaceName);
        Assert.DoesNotContain('%', port.InterfaceName);
        Assert.True(HostCommand.InterfaceExists(port.InterfaceName));
    }

    [Fact]
    public void An_existing_interface_that_is_not_a_tap_is_refused_with_the_reason()
    {
        var error = Assert.Throws<PortOpenException>(() => TapPort.Open(new TapPortOptions { InterfaceName = "lo" }));
        Assert.StartsWith("cannot create or attach tap 'lo' (TUNSETIFF): ", error.Message);
        Assert.Contains("Invalid argument", error.Message);
        Assert.Equal(22, error.Errno);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sixteen-chars-xx")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void Invalid_interface_names_are_refused_before_any_system_call(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => TapPort.Open(new TapPortOptions { InterfaceName = name }));
        Assert.Contains("not a valid interface name", error.Message);
    }

    [Fact]
    public void A_receiver_that_throws_loses_the_frame_but_not_the_port()
    {
        using var tap = TapInNamespace.Create(vnetHeader: false, receiver: new ThrowingReceiver());

        // The kernel's ARP reply reaches a receiver that throws: counted, logged once, thread lives.
        for (int i = 0; i < 3; i++) tap.Port.Send(Frames.ArpRequest(tap.Station.Mac, tap.Station.Ip, tap.KernelIp));

        Assert.True(TapPortTrafficTests.WaitUntil(() => tap.Port.Counters.ReceiveErrors >= 2, TimeSpan.FromSeconds(5)));
        Assert.True(tap.Port.IsReceiving);
        Assert.True(tap.Port.LinkUp);
        Assert.Single(tap.Logger.Entries, entry => entry.Level == LogLevel.Error);
    }

    private sealed class ThrowingReceiver : Polynic.Core.Nic.IPortReceiver
    {
        public void Receive(ReadOnlySpan<byte> frame) => throw new InvalidOperationException("receiver bug");

        public void LinkChanged(bool up) { }
    }
}
