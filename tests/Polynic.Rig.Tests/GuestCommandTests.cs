using Polynic.Rig.Guests;
using Xunit.Abstractions;

namespace Polynic.Rig.Tests;

/// <summary>The serial agent against a real booted guest: results, exit status, timeouts, reboot.</summary>
public sealed class GuestCommandTests(BootedGuestFixture fixture, ITestOutputHelper output) : IClassFixture<BootedGuestFixture>
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(20);
    private Guest Guest => fixture.Guest;

    [Fact]
    public void Boot_reaches_ready_within_budget()
    {
        Assert.NotNull(Guest.TimeToFirstReady);
        output.WriteLine($"boot to READY: {Guest.TimeToFirstReady!.Value.TotalSeconds:0.0} s");
        Assert.True(Guest.TimeToFirstReady < TimeSpan.FromSeconds(60), $"boot took {Guest.TimeToFirstReady}");
        Assert.Contains(AgentReadyLine, Guest.SerialText);
    }

    [Fact]
    public async Task Uname_reports_the_prepared_kernel_and_cpuinfo_the_vcpus()
    {
        var image = await new GuestRig().EnsurePreparedAsync();

        var uname = await Guest.RunCheckedAsync("uname -r", Short);
        var processors = await Guest.RunCheckedAsync("cat /proc/cpuinfo | grep -c processor", Short);

        Assert.Equal(image.KernelRelease + "\n", uname);
        Assert.Equal($"{BootedGuestFixture.Cpus}\n", processors);
    }

    [Fact]
    public async Task Output_is_exact_including_stderr_and_missing_final_newline()
    {
        var result = await Guest.RunAsync("printf 'a  b\\n\\n'; echo oops >&2; printf tail", Short);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("a  b\n\noops\ntail", result.Output);
    }

    [Fact]
    public async Task Non_zero_exit_status_is_reported_and_checked_run_throws_with_output()
    {
        var result = await Guest.RunAsync("echo failing; exit 3", Short);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("failing\n", result.Output);

        var error = await Assert.ThrowsAsync<GuestCommandException>(() => Guest.RunCheckedAsync("ls /no-such-file", Short));
        Assert.NotEqual(0, error.Result.ExitCode);
        Assert.Contains("no-such-file", error.Message);
    }

    [Fact]
    public async Task A_command_that_outlives_its_timeout_fails_clearly_and_the_guest_recovers()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<GuestTimeoutException>(() => Guest.RunAsync("sleep 600", TimeSpan.FromSeconds(2)));
        clock.Stop();

        output.WriteLine(error.Message);
        Assert.Contains("`sleep 600`", error.Message);
        Assert.Contains("serial.log", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"timeout took {clock.Elapsed}");
        // ^C interrupted the sleep, so the next command runs at once.
        Assert.Equal("still here\n", await Guest.RunCheckedAsync("echo still here", Short));
    }

    [Fact]
    public async Task Reboot_brings_the_agent_back_and_commands_work_again()
    {
        await Guest.RunCheckedAsync("touch /tmp/before-reboot", Short);

        await Guest.RebootAsync(TimeSpan.FromSeconds(90));

        // The initramfs is fresh after a boot: the marker is gone, so this really is a new boot.
        var result = await Guest.RunAsync("test -e /tmp/before-reboot", Short);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("ok\n", await Guest.RunCheckedAsync("echo ok", Short));
    }

    [Fact]
    public async Task Qmp_answers_query_status()
    {
        var status = await Guest.QmpAsync("""{"execute":"query-status"}""");

        Assert.Equal("running", status.GetProperty("status").GetString());
    }

    private const string AgentReadyLine = "@@POLYNIC-READY";
}
